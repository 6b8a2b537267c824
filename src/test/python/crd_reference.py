#!/usr/bin/python3
"""PyTorch reference for crd4j's parity tests (CRD: Crossmodal Reverse Distillation, RGB-D anomaly detection).

Written from the crd4j method spec (CRD.md, sections 1, 3-8, 10, 13; no code copied from CRD/RD4AD).
It builds a width-scaled CRD network with seeded, calibrated random weights, saves the weights in the
reference checkpoint formats, and writes the tensors the Java tests compare against.
CPU only, float32, 2 threads, deterministic.

Run with Debian's interpreter (python3-torch from apt):

    /usr/bin/python3 src/test/python/crd_reference.py <command> [options] --out DIR

Commands:
  network     teacher.pth (+ teacher_legacy.pth with --legacy-teacher), checkpoint.pth, rgb.npy, depth.npy and the
              eval-mode reference activations under DIR/ref/ (teacher features, BP/IBP/raw/fused per level, modified
              OCBE output and the raw per-branch anomaly map for both branches).
  few-modal   the network command's weights and inputs (batch 1), then for each missing modality and each
              strategy (filter, amplifier, zero, drop) the estimated teacher features and both raw maps (spec 17.2)
              under DIR/ref/missing_<modality>/<strategy>/ (float64) and DIR/ref_f32/... (float32).
  train-step  the same weight/input files, then K training iterations (spec section 7) on that batch; DIR/train/
              holds losses.json, grads_step1.pth (gradients after the first backward) and after.pth (state dicts
              after the last step).
  ops         single-op fixtures (conv, deconv, BN train/eval, ReLU, max-pool, softmax fusion, cosine loss/map,
              align-corners upsample, Adam + ExponentialLR) under DIR/ops/<case>/.
  check-spec  compare one branch's state_dict (names, order, shapes, dtypes) with crd-branch-state-dict.tsv
              (--tsv PATH); shapes are scaled by base/64. Also compares the teacher with torchvision's
              wide_resnet50_2 when --base 64. Built on the meta device, so nothing is allocated.

Architecture parameters: --base B scales every channel count (paper: 64), --size S is the input size (paper: 256,
must be a multiple of 32). Weights depend only on (base, size, seed), not on the batch size or the command.
"""

import argparse
import json
import math
import os
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False

# Device on which modules are created. "meta" only for check-spec (shape checks without allocating).
_DEVICE = None

T0 = time.time()


def log(msg):
    print("[%7.2fs] %s" % (time.time() - T0, msg), flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Layer helpers. No conv or deconv has a bias (spec section 1).

def conv(cin, cout, k, s, p):
    return nn.Conv2d(cin, cout, kernel_size=k, stride=s, padding=p, bias=False, device=_DEVICE)


def deconv2(cin, cout):
    """ConvTranspose2d k2 s2 p0, weight [cin, cout, 2, 2]."""
    return nn.ConvTranspose2d(cin, cout, kernel_size=2, stride=2, bias=False, device=_DEVICE)


def bnorm(c):
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.1, device=_DEVICE)


# ---------------------------------------------------------------------------------------------------------------
# Teacher: WideResNet-50-2 (torchvision V1.5 bottleneck: stride on the 3x3), channels scaled by base b.

class Bottleneck(nn.Module):
    """1x1 -> BN -> ReLU -> 3x3(stride) -> BN -> ReLU -> 1x1 -> BN, + shortcut, ReLU. Also the OCBE 'AttnBottleneck'."""

    def __init__(self, inplanes, planes, width, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv(inplanes, width, 1, 1, 0)
        self.bn1 = bnorm(width)
        self.conv2 = conv(width, width, 3, stride, 1)
        self.bn2 = bnorm(width)
        self.conv3 = conv(width, planes * 4, 1, 1, 0)
        self.bn3 = bnorm(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = out + identity
        return self.relu(out)


def make_encoder_layer(inplanes, planes, blocks, stride):
    """A ResNet stage of WRN bottlenecks (width = 2 * planes). Returns (Sequential, new inplanes)."""
    width = planes * 2
    downsample = None
    if stride != 1 or inplanes != planes * 4:
        downsample = nn.Sequential(conv(inplanes, planes * 4, 1, stride, 0), bnorm(planes * 4))
    layers = [Bottleneck(inplanes, planes, width, stride, downsample)]
    inplanes = planes * 4
    for _ in range(1, blocks):
        layers.append(Bottleneck(inplanes, planes, width))
    return nn.Sequential(*layers), inplanes


class WideResNet50_2(nn.Module):
    """State-dict keys exactly torchvision's wide_resnet50_2 (conv1, bn1, layer1..4, fc)."""

    def __init__(self, b):
        super().__init__()
        self.conv1 = conv(3, b, 7, 2, 3)
        self.bn1 = bnorm(b)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inpl = b
        self.layer1, inpl = make_encoder_layer(inpl, b, 3, 1)
        self.layer2, inpl = make_encoder_layer(inpl, 2 * b, 4, 2)
        self.layer3, inpl = make_encoder_layer(inpl, 4 * b, 6, 2)
        self.layer4, inpl = make_encoder_layer(inpl, 8 * b, 3, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32 * b, 1000, device=_DEVICE)

    def init_weights(self):
        # torchvision ResNet init: kaiming_normal_(fan_out, relu) for convs, BN 1/0, Linear default.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def features(self, x):
        """[T1, T2, T3] = layer1..3 outputs (what CRD uses)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        t1 = self.layer1(x)
        t2 = self.layer2(t1)
        t3 = self.layer3(t2)
        return [t1, t2, t3]

    def forward(self, x):
        t1, t2, t3 = self.features(x)
        x = self.avgpool(self.layer4(t3))
        return self.fc(torch.flatten(x, 1))


# ---------------------------------------------------------------------------------------------------------------
# One CRD branch (ResNet50DualModalDecoder).

class BottleneckProjection(nn.Module):
    """BP (spec 5.1): per level, conv k2s2 down to S/32 then deconv k2s2 back; each followed by BN, ReLU."""

    def __init__(self, b):
        super().__init__()

        def seq(chans_down, chans_up):
            mods = []
            for cin, cout in chans_down:
                mods += [conv(cin, cout, 2, 2, 0), bnorm(cout), nn.ReLU(inplace=True)]
            for cin, cout in chans_up:
                mods += [deconv2(cin, cout), bnorm(cout), nn.ReLU(inplace=True)]
            return nn.Sequential(*mods)

        c1, c2, c3, c4 = 4 * b, 8 * b, 16 * b, 32 * b
        self.conv_a = seq([(c1, c2), (c2, c3), (c3, c4)], [(c4, c3), (c3, c2), (c2, c1)])
        self.conv_b = seq([(c2, c3), (c3, c4)], [(c4, c3), (c3, c2)])
        self.conv_c = seq([(c3, c4)], [(c4, c3)])

    def forward(self, x):
        return [self.conv_a(x[0]), self.conv_b(x[1]), self.conv_c(x[2])]


class InvertedBottleneckProjection(nn.Module):
    """IBP (spec 5.3): conv 3/1/1 C->C, conv1x1 C->2C, conv1x1 2C->C; each followed by BN, ReLU."""

    def __init__(self, b):
        super().__init__()

        def seq(c):
            return nn.Sequential(conv(c, c, 3, 1, 1), bnorm(c), nn.ReLU(inplace=True),
                                 conv(c, 2 * c, 1, 1, 0), bnorm(2 * c), nn.ReLU(inplace=True),
                                 conv(2 * c, c, 1, 1, 0), bnorm(c), nn.ReLU(inplace=True))

        self.conv_a = seq(4 * b)
        self.conv_b = seq(8 * b)
        self.conv_c = seq(16 * b)

    def forward(self, x):
        return [self.conv_a(x[0]), self.conv_b(x[1]), self.conv_c(x[2])]


class FuseOCBE(nn.Module):
    """Modified OCBE (spec 5.2). bn_layer is registered first so the state_dict order matches the reference."""

    def __init__(self, b):
        super().__init__()
        c1, c2, c3 = 4 * b, 8 * b, 16 * b
        self.bn_layer, _ = make_encoder_layer(3 * c3, 8 * b, 3, 2)   # 48b -> 32b (width 16b), stride 2
        self.conv1 = conv(2 * c1, c3, 3, 2, 1)
        self.bn1 = bnorm(c3)
        self.conv2 = conv(c3, c3, 3, 2, 1)
        self.bn2 = bnorm(c3)
        self.conv3 = conv(2 * c2, c3, 3, 2, 1)
        self.bn3 = bnorm(c3)
        self.conv4 = conv(2 * c3, c3, 3, 1, 1)
        self.bn4 = bnorm(c3)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, t, p):
        l1 = self.relu(self.bn1(self.conv1(torch.cat([t[0], p[0]], dim=1))))
        l1 = self.relu(self.bn2(self.conv2(l1)))
        l2 = self.relu(self.bn3(self.conv3(torch.cat([t[1], p[1]], dim=1))))
        l3 = self.relu(self.bn4(self.conv4(torch.cat([t[2], p[2]], dim=1))))
        return self.bn_layer(torch.cat([l1, l2, l3], dim=1))


class RDOCBE(nn.Module):
    """RD's one-class bottleneck embedding (spec 4.1): T1 through two stride-2 convs, T2 through one, T3 unchanged.
    conv4/bn4 exist (as in the reference) but are never run."""

    def __init__(self, b):
        super().__init__()
        c1, c2, c3 = 4 * b, 8 * b, 16 * b
        self.bn_layer, _ = make_encoder_layer(3 * c3, 8 * b, 3, 2)
        self.conv1 = conv(c1, c2, 3, 2, 1)
        self.bn1 = bnorm(c2)
        self.conv2 = conv(c2, c3, 3, 2, 1)
        self.bn2 = bnorm(c3)
        self.conv3 = conv(c2, c3, 3, 2, 1)
        self.bn3 = bnorm(c3)
        self.conv4 = conv(4 * c3, 32 * b, 1, 1, 0)
        self.bn4 = bnorm(32 * b)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, t):
        l1 = self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(t[0]))))))
        l2 = self.relu(self.bn3(self.conv3(t[1])))
        return self.bn_layer(torch.cat([l1, l2, t[2]], dim=1))


class RDStudent(nn.Module):
    """RD baseline student (spec 4.1 + 4.2): OCBE then the plain decoder, returning [S1, S2, S3]."""

    def __init__(self, b):
        super().__init__()
        self.bn = RDOCBE(b)
        self.decoder = nn.Module()
        inpl = 32 * b
        self.decoder.layer1, inpl = make_decoder_layer(inpl, 4 * b, 3)
        self.decoder.layer2, inpl = make_decoder_layer(inpl, 2 * b, 4)
        self.decoder.layer3, inpl = make_decoder_layer(inpl, b, 6)

    def init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, t):
        z = self.bn(t)
        s3 = self.decoder.layer1(z)
        s2 = self.decoder.layer2(s3)
        s1 = self.decoder.layer3(s2)
        return z, [s1, s2, s3]


class DeBottleneck(nn.Module):
    """Decoder bottleneck (spec 4.2): in an upsampling block the 3x3 conv is a k2s2 deconv and the shortcut is
    deconv(in->out) + BN."""

    def __init__(self, inplanes, planes, width, upsample=None):
        super().__init__()
        self.conv1 = conv(inplanes, width, 1, 1, 0)
        self.bn1 = bnorm(width)
        self.conv2 = deconv2(width, width) if upsample is not None else conv(width, width, 3, 1, 1)
        self.bn2 = bnorm(width)
        self.conv3 = conv(width, planes * 4, 1, 1, 0)
        self.bn3 = bnorm(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.upsample = upsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.upsample is not None:
            identity = self.upsample(x)
        out = out + identity
        return self.relu(out)


def make_decoder_layer(inplanes, planes, blocks):
    width = planes * 2
    upsample = nn.Sequential(deconv2(inplanes, planes * 4), bnorm(planes * 4))
    layers = [DeBottleneck(inplanes, planes, width, upsample)]
    inplanes = planes * 4
    for _ in range(1, blocks):
        layers.append(DeBottleneck(inplanes, planes, width))
    return nn.Sequential(*layers), inplanes


def fuse(w, r, q, semantics):
    """Softmax fusion of one stage (spec 5.4, 6.3). Returns (forwarded tensor, returned tensor G)."""
    e = torch.exp(w)
    om = e / e.sum()
    if semantics == "joint":
        g = om[0] * r + om[1] * q
        return g, g
    if semantics != "detached":
        raise ValueError("semantics must be detached or joint: " + semantics)
    od = om.detach()
    fwd = od[0] * r + od[1] * q
    ret = om[0] * r.detach() + om[1] * q.detach()
    return fwd, ret


class FuseDecoder(nn.Module):
    """Decoder with cascaded per-stage fusion (spec 4.2 + 5.4)."""

    def __init__(self, b):
        super().__init__()
        inpl = 32 * b
        self.layer1, inpl = make_decoder_layer(inpl, 4 * b, 3)   # -> 16b @ S/16
        self.layer2, inpl = make_decoder_layer(inpl, 2 * b, 4)   # -> 8b  @ S/8
        self.layer3, inpl = make_decoder_layer(inpl, b, 6)       # -> 4b  @ S/4
        self.w_a = nn.Parameter(torch.ones(2, device=_DEVICE))
        self.w_b = nn.Parameter(torch.ones(2, device=_DEVICE))
        self.w_c = nn.Parameter(torch.ones(2, device=_DEVICE))

    def forward(self, z, q, semantics="detached"):
        r3 = self.layer1(z)
        f3, g3 = fuse(self.w_a, r3, q[2], semantics)
        r2 = self.layer2(f3)
        f2, g2 = fuse(self.w_b, r2, q[1], semantics)
        r1 = self.layer3(f2)
        _, g1 = fuse(self.w_c, r1, q[0], semantics)
        return [g1, g2, g3], [r1, r2, r3]


class CRDBranch(nn.Module):
    """ResNet50DualModalDecoder. Registration order (bn, decoder, projector_filter, projector_amply) gives the
    reference state_dict order."""

    def __init__(self, b):
        super().__init__()
        self.bn = FuseOCBE(b)
        self.decoder = FuseDecoder(b)
        self.projector_filter = BottleneckProjection(b)
        self.projector_amply = InvertedBottleneckProjection(b)

    def init_weights(self):
        # spec 5.6: Conv2d kaiming_normal_(fan_out, relu); ConvTranspose2d keeps the default init (not a Conv2d);
        # BN weight 1 bias 0; fusion logits 1.0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        with torch.no_grad():
            for w in (self.decoder.w_a, self.decoder.w_b, self.decoder.w_c):
                w.fill_(1.0)

    def forward_all(self, x, x_assist, semantics="detached"):
        p = self.projector_filter(x_assist)
        q = self.projector_amply(x_assist)
        z = self.bn(x, p)
        f_fused, f_raw = self.decoder(z, q, semantics)
        return {"P": p, "Q": q, "ocbe": z, "raw": f_raw, "fused": f_fused}

    def forward(self, x, x_assist, semantics="detached"):
        o = self.forward_all(x, x_assist, semantics)
        return o["P"], o["Q"], o["raw"], o["fused"]


# ---------------------------------------------------------------------------------------------------------------
# Loss and anomaly map.

def cos_loss(s_list, t_list):
    """spec 4.3: sum over levels of mean over batch of 1 - cos(flatten(S_k[n]), flatten(T_k[n]))."""
    loss = 0
    for s, t in zip(s_list, t_list):
        n = s.shape[0]
        loss = loss + torch.mean(1 - F.cosine_similarity(s.reshape(n, -1), t.reshape(n, -1), dim=1, eps=1e-8))
    return loss


def branch_losses(out, t):
    p, q, raw, fused = out
    parts = OrderedDict()
    parts["raw"] = cos_loss(raw, t)
    parts["bp"] = cos_loss(p, t)
    parts["ibp"] = cos_loss(q, t)
    parts["fused"] = cos_loss(fused, t)
    total = parts["raw"] + parts["bp"] + parts["ibp"] + parts["fused"]
    return total, parts


def anomaly_map(fused, t, size):
    """spec 8.1: per level 1 - cos over channels per pixel, bilinear align_corners=True to size x size, summed in
    float64 in level order 1, 2, 3. Returns float64 numpy [N, size, size]."""
    acc = np.zeros((fused[0].shape[0], size, size), dtype=np.float64)
    for g, tt in zip(fused, t):
        m = 1 - F.cosine_similarity(g, tt, dim=1, eps=1e-8)          # [N, h, w]
        m = F.interpolate(m.unsqueeze(1), size=(size, size), mode="bilinear", align_corners=True)
        acc += m[:, 0].detach().numpy().astype(np.float64)
    return acc


# ---------------------------------------------------------------------------------------------------------------
# Building the seeded, calibrated network.

def bn_modules(model):
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


def calibrate_bn(model, run_batch, n_batches=4):
    """Cumulative-average BN running stats over n_batches train-mode forwards (no grad), then momentum 0.1."""
    bns = bn_modules(model)
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for i in range(n_batches):
            run_batch(i)
    for m in bns:
        m.momentum = 0.1
        # Channels that ReLU left (almost) constant calibrate to a variance near 0, and eval-mode BN would then
        # multiply float32 rounding noise by up to 1/sqrt(eps) ~ 316. Trained networks do not look like that; a floor
        # at 5% of the layer's mean variance keeps the random network about as well conditioned as a trained one.
        m.running_var.clamp_(min=0.05 * float(m.running_var.mean()))
    model.eval()


def randomise_bn_affine(model):
    with torch.no_grad():
        for m in bn_modules(model):
            m.weight.uniform_(0.8, 1.2)
            m.bias.normal_(0.0, 0.05)


def build_teacher(b, size):
    t = WideResNet50_2(b)
    t.init_weights()
    calibrate_bn(t, lambda i: t(torch.randn(2, 3, size, size)))
    randomise_bn_affine(t)
    t.eval()
    for p in t.parameters():
        p.requires_grad_(False)
    return t


def build_branch(b, size, teacher, name):
    br = CRDBranch(b)
    br.init_weights()

    def run(i):
        xa = teacher.features(torch.randn(2, 3, size, size))
        xb = teacher.features(torch.randn(2, 3, size, size))
        br.forward_all(xa, xb)

    calibrate_bn(br, run)
    randomise_bn_affine(br)
    with torch.no_grad():
        for w in (br.decoder.w_a, br.decoder.w_b, br.decoder.w_c):
            w.normal_(1.0, 0.5)
        for m in bn_modules(br):
            m.num_batches_tracked.fill_(int(torch.randint(1, 1000, ()).item()))
    br.eval()
    log("branch %s: fusion logits w_a=%s w_b=%s w_c=%s" % (
        name, br.decoder.w_a.tolist(), br.decoder.w_b.tolist(), br.decoder.w_c.tolist()))
    return br


def build_all(b, size, seed):
    """Weights depend only on (b, size, seed). Global RNG is used for init and calibration."""
    if size % 32 != 0 or size < 64:
        raise SystemExit("--size must be a multiple of 32 and >= 64 (got %d)" % size)
    torch.manual_seed(seed)
    np.random.seed(seed)
    t0 = time.time()
    teacher = build_teacher(b, size)
    log("teacher built + calibrated in %.2fs" % (time.time() - t0))
    t0 = time.time()
    rgb = build_branch(b, size, teacher, "rgb")
    log("rgb branch built + calibrated in %.2fs" % (time.time() - t0))
    t0 = time.time()
    depth = build_branch(b, size, teacher, "depth")
    log("depth branch built + calibrated in %.2fs" % (time.time() - t0))
    return teacher, rgb, depth


def make_inputs(n, size, seed):
    g = torch.Generator().manual_seed(seed + 1000003)
    rgb = torch.randn(n, 3, size, size, generator=g)
    depth = torch.randn(n, 3, size, size, generator=g)
    return rgb, depth


# ---------------------------------------------------------------------------------------------------------------
# I/O.

def save_npy(path, t):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(t, torch.Tensor):
        a = t.detach().cpu().numpy()
    else:
        a = np.asarray(t)
    np.save(path, np.array(a, dtype=np.float32, order="C"))  # keeps 0-d arrays 0-d


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def save_weights(out, teacher, rgb, depth, legacy_teacher):
    t0 = time.time()
    tsd = teacher.state_dict()
    torch.save(tsd, os.path.join(out, "teacher.pth"))
    if legacy_teacher:
        torch.save(tsd, os.path.join(out, "teacher_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"student_rgb": rgb.state_dict(), "student_depth": depth.state_dict()},
               os.path.join(out, "checkpoint.pth"))
    log("weights saved in %.2fs (teacher %d entries, branch %d entries)" % (
        time.time() - t0, len(tsd), len(rgb.state_dict())))


def check_features(tag, tensors):
    stds = []
    for i, t in enumerate(tensors):
        if not torch.isfinite(t).all():
            raise AssertionError("%s level %d has non-finite values" % (tag, i + 1))
        s = float(t.float().std())
        if not (s > 0) or float(t.abs().max()) == 0:
            raise AssertionError("%s level %d is all-zero/constant" % (tag, i + 1))
        stds.append(s)
    log("  %-14s std per level: %s" % (tag, " ".join("%.4g" % s for s in stds)))


# ---------------------------------------------------------------------------------------------------------------
# Commands.

def write_reference(ref, a, teacher, rgb_b, depth_b, x_rgb, x_depth):
    with torch.no_grad():
        teacher.eval()
        rgb_b.eval()
        depth_b.eval()
        t_rgb = teacher.features(x_rgb)
        t_depth = teacher.features(x_depth)
        check_features("teacher_rgb", t_rgb)
        check_features("teacher_depth", t_depth)
        save_npy(os.path.join(ref, "input_rgb.npy"), x_rgb)
        save_npy(os.path.join(ref, "input_depth.npy"), x_depth)
        for k in range(3):
            save_npy(os.path.join(ref, "teacher_rgb_%d.npy" % (k + 1)), t_rgb[k])
            save_npy(os.path.join(ref, "teacher_depth_%d.npy" % (k + 1)), t_depth[k])
        for name, br, ta, tb in (("rgb", rgb_b, t_rgb, t_depth), ("depth", depth_b, t_depth, t_rgb)):
            o = br.forward_all(ta, tb)
            d = os.path.join(ref, name)
            for key, fname in (("P", "bp"), ("Q", "ibp"), ("raw", "raw"), ("fused", "fused")):
                check_features("%s.%s" % (name, fname), o[key])
                for k in range(3):
                    save_npy(os.path.join(d, "%s_%d.npy" % (fname, k + 1)), o[key][k])
            check_features("%s.ocbe" % name, [o["ocbe"]])
            save_npy(os.path.join(d, "ocbe.npy"), o["ocbe"])
            m = anomaly_map(o["fused"], ta, a.size)
            if not np.isfinite(m).all():
                raise AssertionError("non-finite anomaly map")
            log("  %-14s map min %.5f max %.5f mean %.5f" % (name, m.min(), m.max(), m.mean()))
            save_npy(os.path.join(d, "map.npy"), m[0] if a.batch == 1 else m)


def cmd_network(a):
    out = a.out
    os.makedirs(out, exist_ok=True)
    t_start = time.time()
    teacher, rgb_b, depth_b = build_all(a.base, a.size, a.seed)
    x_rgb, x_depth = make_inputs(a.batch, a.size, a.seed)
    save_weights(out, teacher, rgb_b, depth_b, a.legacy_teacher)
    save_npy(os.path.join(out, "rgb.npy"), x_rgb)
    save_npy(os.path.join(out, "depth.npy"), x_depth)
    if a.tsv:
        check_branch_against_tsv(rgb_b, a.tsv, a.base)
        check_branch_against_tsv(depth_b, a.tsv, a.base)

    t0 = time.time()
    ref = os.path.join(out, "ref")
    if a.ref_dtype == "float64":
        # The float32 weights and inputs evaluated in float64: the exact answer to the float32 problem, so the
        # Java float32 error is measured against truth rather than against another float32 rounding pattern.
        import copy
        write_reference(ref, a, copy.deepcopy(teacher).double(), copy.deepcopy(rgb_b).double(),
                        copy.deepcopy(depth_b).double(), x_rgb.double(), x_depth.double())
        write_reference(os.path.join(out, "ref_f32"), a, teacher, rgb_b, depth_b, x_rgb, x_depth)
    else:
        write_reference(ref, a, teacher, rgb_b, depth_b, x_rgb, x_depth)
    write_json(os.path.join(ref, "meta.json"), {"base": a.base, "size": a.size, "batch": a.batch, "seed": a.seed, "ref_dtype": a.ref_dtype,
                                                "torch": torch.__version__})
    log("reference forward + writing in %.2fs" % (time.time() - t0))
    log("network done in %.2fs" % (time.time() - t_start))


def write_few_modal(ref, a, teacher, rgb_b, depth_b, x_rgb, x_depth):
    """spec 17.1-17.2: one modality missing. For each missing side M (present side P) and each strategy:
    estimated_<M>_k = T^_M (filter: BP_M(T_P); amplifier: IBP_M(T_P); zero: 0), <P>/map = raw map of
    branch_P(T_P, assist T^_M) against T_P, <M>/map = raw map of branch_M(T^_M, assist T_P) against T^_M
    (not for zero: 1 - cos against an all-zero target is the constant 1 per level). drop: branch_P with its assist
    signals (the Filter's P and the Amplifier's Q) set to zero, no M map."""
    with torch.no_grad():
        for m in (teacher, rgb_b, depth_b):
            m.eval()
        t = {"rgb": teacher.features(x_rgb), "depth": teacher.features(x_depth)}
        br = {"rgb": rgb_b, "depth": depth_b}
        # spec 8.2 / 17.2 item 3: np.mean and np.std (ddof 0) of each raw map, keyed by branch and mode, from the
        # maps in the evaluation dtype (before the float32 storage of the .npy files)
        stats = {"rgb": {}, "depth": {}}

        def stat(branch, mode, m):
            stats[branch][mode] = {"mean": float(np.mean(m)), "std": float(np.std(m))}

        for name, other in (("rgb", "depth"), ("depth", "rgb")):
            stat(name, "real", anomaly_map(br[name].forward_all(t[name], t[other])["fused"], t[name], a.size))
        for missing, present in (("depth", "rgb"), ("rgb", "depth")):
            tp = t[present]
            for strategy in ("filter", "amplifier", "zero", "drop"):
                d = os.path.join(ref, "missing_" + missing, strategy)
                if strategy == "drop":
                    zeros = [torch.zeros_like(x) for x in tp]
                    z = br[present].bn(tp, zeros)
                    fused, _ = br[present].decoder(z, zeros)
                    m = anomaly_map(fused, tp, a.size)
                    save_npy(os.path.join(d, present, "map.npy"), m[0])
                    stat(present, "assist-dropped", m)
                    continue
                if strategy == "filter":
                    est = br[missing].projector_filter(tp)
                elif strategy == "amplifier":
                    est = br[missing].projector_amply(tp)
                else:
                    est = [torch.zeros_like(x) for x in tp]
                for k in range(3):
                    save_npy(os.path.join(d, "estimated_%s_%d.npy" % (missing, k + 1)), est[k])
                fused_p = br[present].forward_all(tp, est)["fused"]
                m = anomaly_map(fused_p, tp, a.size)
                save_npy(os.path.join(d, present, "map.npy"), m[0])
                stat(present, "assist-" + strategy, m)
                if strategy != "zero":
                    fused_m = br[missing].forward_all(est, tp)["fused"]
                    m = anomaly_map(fused_m, est, a.size)
                    save_npy(os.path.join(d, missing, "map.npy"), m[0])
                    stat(missing, "estimated-" + strategy, m)
        write_json(os.path.join(ref, "stats.json"), stats)


def cmd_few_modal(a):
    """The network command's weights and inputs (batch 1), then the few-modal outputs of spec 17.2 under ref/
    (float64 evaluation of the float32 weights) and ref_f32/ (float32)."""
    import copy
    out = a.out
    os.makedirs(out, exist_ok=True)
    teacher, rgb_b, depth_b = build_all(a.base, a.size, a.seed)
    x_rgb, x_depth = make_inputs(1, a.size, a.seed)
    save_weights(out, teacher, rgb_b, depth_b, False)
    save_npy(os.path.join(out, "rgb.npy"), x_rgb)
    save_npy(os.path.join(out, "depth.npy"), x_depth)
    write_few_modal(os.path.join(out, "ref"), a, copy.deepcopy(teacher).double(), copy.deepcopy(rgb_b).double(),
                    copy.deepcopy(depth_b).double(), x_rgb.double(), x_depth.double())
    write_few_modal(os.path.join(out, "ref_f32"), a, teacher, rgb_b, depth_b, x_rgb, x_depth)


def cmd_train_step(a):
    out = a.out
    os.makedirs(out, exist_ok=True)
    t_start = time.time()
    teacher, rgb_b, depth_b = build_all(a.base, a.size, a.seed)
    x_rgb, x_depth = make_inputs(a.batch, a.size, a.seed)
    save_weights(out, teacher, rgb_b, depth_b, a.legacy_teacher)
    save_npy(os.path.join(out, "rgb.npy"), x_rgb)
    save_npy(os.path.join(out, "depth.npy"), x_depth)
    if a.dtype == "float64":
        # train the saved float32 weights in float64: the exact answer for the Java float64 "same maths" test
        teacher, rgb_b, depth_b = teacher.double(), rgb_b.double(), depth_b.double()
        x_rgb, x_depth = x_rgb.double(), x_depth.double()

    t0 = time.time()
    branches = OrderedDict([("rgb", rgb_b), ("depth", depth_b)])
    opts, scheds = {}, {}
    for name, br in branches.items():
        opts[name] = torch.optim.Adam(br.parameters(), lr=0.005, betas=(0.5, 0.999), eps=1e-8, weight_decay=0,
                                      foreach=False)
        scheds[name] = torch.optim.lr_scheduler.ExponentialLR(opts[name], gamma=0.95)
    losses = []
    grads1 = {}
    teacher.eval()
    for step in range(a.steps):
        with torch.no_grad():
            t_rgb = teacher.features(x_rgb)
            t_depth = teacher.features(x_depth)
        feats = {"rgb": (t_rgb, t_depth), "depth": (t_depth, t_rgb)}
        rec = OrderedDict()
        for name, br in branches.items():
            ta, tb = feats[name]
            br.train()
            total, parts = branch_losses(br(ta, tb, a.semantics), ta)
            opts[name].zero_grad()
            total.backward()
            if step == 0:
                grads1["student_" + name] = OrderedDict(
                    (n, p.grad.detach().clone()) for n, p in br.named_parameters())
            opts[name].step()
            r = OrderedDict((k, float(v.item())) for k, v in parts.items())
            r["total"] = float(total.item())
            rec[name] = r
        for name in branches:
            scheds[name].step()
            branches[name].eval()
        losses.append(rec)
        log("step %d: rgb total %.6f  depth total %.6f  (lr now %.6g)" % (
            step + 1, rec["rgb"]["total"], rec["depth"]["total"], opts["rgb"].param_groups[0]["lr"]))
    tr = os.path.join(out, "train")
    os.makedirs(tr, exist_ok=True)
    write_json(os.path.join(tr, "losses.json"), losses)
    torch.save(grads1, os.path.join(tr, "grads_step1.pth"))
    torch.save({"student_rgb": rgb_b.state_dict(), "student_depth": depth_b.state_dict()},
               os.path.join(tr, "after.pth"))
    write_json(os.path.join(tr, "meta.json"), {"base": a.base, "size": a.size, "batch": a.batch, "seed": a.seed,
                                               "steps": a.steps, "semantics": a.semantics, "dtype": a.dtype,
                                               "torch": torch.__version__})
    log("training steps + writing in %.2fs" % (time.time() - t0))
    log("train-step done in %.2fs" % (time.time() - t_start))


def cmd_rd(a):
    """RD baseline (spec 4.1, 4.2): teacher.pth, rd.pth {'bn', 'decoder'}, rgb.npy and eval-mode outputs, computed in
    float64 on the float32 weights (ref/) and in float32 (ref_f32/)."""
    import copy
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    teacher = build_teacher(a.base, a.size)
    rd = RDStudent(a.base)
    rd.init_weights()
    calibrate_bn(rd, lambda i: rd(teacher.features(torch.randn(2, 3, a.size, a.size))))
    randomise_bn_affine(rd)
    rd.eval()
    x, _ = make_inputs(1, a.size, a.seed)
    torch.save(teacher.state_dict(), os.path.join(a.out, "teacher.pth"))
    torch.save({"bn": rd.bn.state_dict(), "decoder": rd.decoder.state_dict()}, os.path.join(a.out, "rd.pth"))
    save_npy(os.path.join(a.out, "rgb.npy"), x)
    for sub, t_m, r_m, xx in (("ref", copy.deepcopy(teacher).double(), copy.deepcopy(rd).double(), x.double()),
                              ("ref_f32", teacher, rd, x)):
        with torch.no_grad():
            z, s_list = r_m(t_m.features(xx))
        save_npy(os.path.join(a.out, sub, "ocbe.npy"), z)
        for k in range(3):
            save_npy(os.path.join(a.out, sub, "s_%d.npy" % (k + 1)), s_list[k])
        check_features("rd " + sub, s_list)


def cmd_fuse_maps(a):
    """Spec 8.3 from two raw branch maps: M = (M_rgb - mu)/sigma + (M_d - mu)/sigma, scipy gaussian_filter(sigma=4)
    in float64, image score = max; per-branch scores = max of the smoothed normalised branch map."""
    from scipy.ndimage import gaussian_filter
    os.makedirs(a.out, exist_ok=True)
    with open(a.stats) as f:
        st = json.load(f)
    mr = np.load(a.rgb_map).astype(np.float64)
    md = np.load(a.depth_map).astype(np.float64)
    nr = (mr - st["rgb"]["mean"]) / st["rgb"]["std"]
    nd = (md - st["depth"]["mean"]) / st["depth"]["std"]
    m = gaussian_filter(nr + nd, sigma=4)
    np.save(os.path.join(a.out, "map.npy"), m)
    write_json(os.path.join(a.out, "score.json"), {"score": float(m.max()),
                                                   "rgb": float(gaussian_filter(nr, sigma=4).max()),
                                                   "depth": float(gaussian_filter(nd, sigma=4).max())})


def cmd_bench(a):
    """Eval-mode forward latency of the whole CRD inference (two teacher passes, both branches, both raw maps)."""
    torch.manual_seed(a.seed)
    teacher = WideResNet50_2(a.base)
    teacher.init_weights()
    rgb_b, depth_b = CRDBranch(a.base), CRDBranch(a.base)
    rgb_b.init_weights()
    depth_b.init_weights()
    for m in (teacher, rgb_b, depth_b):
        m.eval()
    x_rgb, x_depth = make_inputs(a.batch, a.size, a.seed)
    times = []
    with torch.no_grad():
        for i in range(a.warmup + a.runs):
            t0 = time.perf_counter()
            t_rgb, t_depth = teacher.features(x_rgb), teacher.features(x_depth)
            o_rgb = rgb_b.forward_all(t_rgb, t_depth)
            o_depth = depth_b.forward_all(t_depth, t_rgb)
            anomaly_map(o_rgb["fused"], t_rgb, a.size)
            anomaly_map(o_depth["fused"], t_depth, a.size)
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
    times.sort()
    res = {"what": "pytorch eager float32 CRD inference (2 teachers + 2 branches + 2 raw maps)", "base": a.base,
           "size": a.size, "batch": a.batch, "threads": torch.get_num_threads(), "torch": torch.__version__,
           "runs_s": times, "median_s": times[len(times) // 2]}
    print(json.dumps(res))
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        write_json(os.path.join(a.out, "bench.json"), res)


def cmd_train_bench(a):
    """Training throughput of the CRD students, the same iteration crd4j's benchmarks/CpuTrainTime.java times: both
    teacher passes without gradients, then per branch forward (train mode), loss, backward and an Adam step, float32,
    on random weights and inputs; `warmup` untimed steps first. Prints JSON (samples/s by wall time and by the
    process's CPU time)."""
    torch.manual_seed(a.seed)
    teacher = WideResNet50_2(a.base)
    teacher.init_weights()
    teacher.eval()
    branches = OrderedDict([("rgb", CRDBranch(a.base)), ("depth", CRDBranch(a.base))])
    opts = {}
    for name, br in branches.items():
        br.init_weights()
        br.train()
        opts[name] = torch.optim.Adam(br.parameters(), lr=0.005, betas=(0.5, 0.999), eps=1e-8, weight_decay=0)
    x_rgb, x_depth = make_inputs(a.batch, a.size, a.seed)
    for i in range(a.warmup + a.steps):
        if i == a.warmup:
            w0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            t_rgb = teacher.features(x_rgb)
            t_depth = teacher.features(x_depth)
        feats = {"rgb": (t_rgb, t_depth), "depth": (t_depth, t_rgb)}
        for name, br in branches.items():
            ta, tb = feats[name]
            total, _ = branch_losses(br(ta, tb, a.semantics), ta)
            opts[name].zero_grad()
            total.backward()
            opts[name].step()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    res = {"what": "pytorch eager float32 CRD training iteration (2 teacher passes + 2 branches fwd/bwd/Adam)",
           "base": a.base, "size": a.size, "batch": a.batch, "threads": torch.get_num_threads(),
           "torch": torch.__version__, "steps": a.steps, "samples_per_s_wall": a.steps * a.batch / wall,
           "samples_per_cpu_s": a.steps * a.batch / cpu, "wall_s": wall, "cpu_s": cpu}
    print(json.dumps(res))


def cmd_ops(a):
    t_start = time.time()
    root = os.path.join(a.out, "ops")
    os.makedirs(root, exist_ok=True)
    g = torch.Generator().manual_seed(a.seed + 7)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    def rand(*shape):
        return torch.rand(*shape, generator=g)

    cases = OrderedDict()

    def write(case, params=None, **arrays):
        d = os.path.join(root, case)
        for k, v in arrays.items():
            save_npy(os.path.join(d, k + ".npy"), v)
        cases[case] = {"params": params or {},
                       "files": {k: list(np.shape(v.detach().numpy() if isinstance(v, torch.Tensor) else v))
                                 for k, v in arrays.items()}}

    # Convolutions (no bias), gradients of sum(out * gout).
    for k, s, p in ((3, 1, 1), (3, 2, 1), (7, 2, 3), (1, 1, 0), (1, 2, 0), (2, 2, 0)):
        x = randn(2, 5, 9, 9).requires_grad_(True)
        w = (randn(6, 5, k, k) * math.sqrt(2.0 / (5 * k * k))).requires_grad_(True)
        out = F.conv2d(x, w, stride=s, padding=p)
        gout = randn(*out.shape)
        gx, gw = torch.autograd.grad(out, [x, w], gout)
        write("conv_k%ds%dp%d" % (k, s, p), {"kernel": k, "stride": s, "padding": p},
              x=x, w=w, out=out, gout=gout, grad_x=gx, grad_w=gw)

    # Transposed convolution k2 s2, weight [C_in, C_out, 2, 2].
    x = randn(2, 5, 7, 9).requires_grad_(True)
    w = (randn(5, 6, 2, 2) * 0.3).requires_grad_(True)
    out = F.conv_transpose2d(x, w, stride=2)
    gout = randn(*out.shape)
    gx, gw = torch.autograd.grad(out, [x, w], gout)
    write("deconv_k2s2", {"kernel": 2, "stride": 2}, x=x, w=w, out=out, gout=gout, grad_x=gx, grad_w=gw)

    # BatchNorm, train mode (batch stats, biased var for normalising; running stats: momentum 0.1, unbiased var).
    x = (randn(3, 5, 7, 9) * 1.7 + 0.4).requires_grad_(True)
    weight = (rand(5) * 0.8 + 0.6).requires_grad_(True)
    bias = (randn(5) * 0.2).requires_grad_(True)
    rm0 = randn(5) * 0.3
    rv0 = rand(5) + 0.5
    rm, rv = rm0.clone(), rv0.clone()
    out = F.batch_norm(x, rm, rv, weight, bias, training=True, momentum=0.1, eps=1e-5)
    gout = randn(*out.shape)
    gx, gwt, gb = torch.autograd.grad(out, [x, weight, bias], gout)
    write("bn_train", {"eps": 1e-5, "momentum": 0.1}, x=x, weight=weight, bias=bias, running_mean=rm0,
          running_var=rv0, out=out, running_mean_after=rm, running_var_after=rv, gout=gout, grad_x=gx,
          grad_weight=gwt, grad_bias=gb)

    # BatchNorm, eval mode.
    x = randn(3, 5, 7, 9) * 1.3 + 0.2
    weight = rand(5) * 0.8 + 0.6
    bias = randn(5) * 0.2
    rm0 = randn(5) * 0.3
    rv0 = rand(5) + 0.5
    out = F.batch_norm(x, rm0.clone(), rv0.clone(), weight, bias, training=False, momentum=0.1, eps=1e-5)
    write("bn_eval", {"eps": 1e-5}, x=x, weight=weight, bias=bias, running_mean=rm0, running_var=rv0, out=out)

    # ReLU (a few exact zeros pin PyTorch's convention: gradient 0 at x == 0).
    x = randn(2, 5, 7, 9)
    x.view(-1)[::37] = 0.0
    x.requires_grad_(True)
    out = F.relu(x)
    gout = randn(*out.shape)
    (gx,) = torch.autograd.grad(out, [x], gout)
    write("relu", {"note": "x holds exact zeros; grad at 0 is 0"}, x=x, out=out, gout=gout, grad_x=gx)

    # Max pool 3/2/1 (implicit -inf padding).
    x = randn(2, 5, 9, 8)
    out = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
    write("maxpool_k3s2p1", {"kernel": 3, "stride": 2, "padding": 1}, x=x, out=out)

    # Softmax fusion out = softmax(w)[0] * r + softmax(w)[1] * q, softmax computed as exp / sum(exp).
    r = F.relu(randn(2, 5, 7, 7)).requires_grad_(True)
    q = F.relu(randn(2, 5, 7, 7)).requires_grad_(True)
    w = torch.tensor([1.3, 0.4]).requires_grad_(True)
    out, _ = fuse(w, r, q, "joint")
    gout = randn(*out.shape)
    gr, gq, gw = torch.autograd.grad(out, [r, q, w], gout)
    write("fusion_softmax", {}, r=r, q=q, w=w, out=out, gout=gout, grad_r=gr, grad_q=gq, grad_w=gw)

    # Flattened cosine loss (one level of spec 4.3); sample 1 has s close to t.
    t = F.relu(randn(3, 5, 7, 7))
    s = F.relu(randn(3, 5, 7, 7))
    s[1] = F.relu(t[1] + 0.01 * randn(5, 7, 7))
    s.requires_grad_(True)
    loss = torch.mean(1 - F.cosine_similarity(s.reshape(3, -1), t.reshape(3, -1), dim=1, eps=1e-8))
    (gs,) = torch.autograd.grad(loss, [s])
    write("cos_loss", {"eps": 1e-8, "close_sample": 1}, s=s, t=t, loss=loss, grad_s=gs)

    # Per-pixel cosine map over channels.
    s = F.relu(randn(2, 6, 5, 7))
    t = F.relu(randn(2, 6, 5, 7))
    out = (1 - F.cosine_similarity(s, t, dim=1, eps=1e-8)).unsqueeze(1)
    write("cos_map", {"eps": 1e-8}, s=s, t=t, out=out)

    # Bilinear upsample, align_corners=True.
    x = rand(2, 1, 5, 7)
    out = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=True)
    write("upsample_ac", {"size": 64}, x=x, out=out)

    # Adam + ExponentialLR(0.95) stepped after each step.
    p = nn.Parameter(randn(4, 5))
    arrays = {"p0": p.detach().clone()}
    opt = torch.optim.Adam([p], lr=0.005, betas=(0.5, 0.999), eps=1e-8, weight_decay=0, foreach=False)
    sch = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.95)
    for k in (1, 2, 3):
        gk = randn(4, 5) * (0.1 * k)
        arrays["g%d" % k] = gk
        opt.zero_grad()
        p.grad = gk.clone()
        opt.step()
        sch.step()
        arrays["p%d" % k] = p.detach().clone()
    write("adam", {"lr": 0.005, "betas": [0.5, 0.999], "eps": 1e-8, "gamma": 0.95}, **arrays)

    write_json(os.path.join(root, "meta.json"), {"seed": a.seed, "torch": torch.__version__, "cases": cases})
    log("ops: %d cases written in %.2fs" % (len(cases), time.time() - t_start))


def read_tsv(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            name, shape, dtype = line.split("\t")
            shape = tuple(int(v) for v in shape.strip("()").split(",") if v.strip())
            rows.append((name, shape, dtype))
    return rows


def scaled_shape(name, shape, b):
    if name.startswith("decoder.w_"):
        return shape
    out = list(shape)
    for i in range(min(2, len(out))):
        if out[i] % 64 != 0:
            raise ValueError("unexpected channel count %s in %s" % (shape, name))
        out[i] = out[i] * b // 64
    return tuple(out)


def check_branch_against_tsv(branch, tsv, b):
    rows = read_tsv(tsv)
    sd = branch.state_dict()
    got = [(n, tuple(t.shape), str(t.dtype).replace("torch.", "")) for n, t in sd.items()]
    want = [(n, scaled_shape(n, s, b), d) for n, s, d in rows]
    if got != want:
        gs, ws = set(got), set(want)
        msg = ["state_dict differs from %s (base %d): %d entries vs %d" % (tsv, b, len(got), len(want))]
        msg += ["  missing/different: %s" % (x,) for x in want if x not in gs][:20]
        msg += ["  unexpected: %s" % (x,) for x in got if x not in ws][:20]
        if gs == ws:
            msg.append("  (same entries, different order)")
        raise AssertionError("\n".join(msg))
    log("branch state_dict equals %s at base %d: %d entries (names, order, shapes, dtypes)" % (tsv, b, len(got)))


def cmd_check_spec(a):
    global _DEVICE
    _DEVICE = "meta"
    try:
        br = CRDBranch(a.base)
        check_branch_against_tsv(br, a.tsv, a.base)
        nparam = sum(p.numel() for p in br.parameters())
        log("branch trainable parameters at base %d: %d" % (a.base, nparam))
        te = WideResNet50_2(a.base)
        if a.base == 64:
            import torchvision
            ref = torchvision.models.wide_resnet50_2(weights=None).state_dict()
            mine = te.state_dict()
            a_ = [(n, tuple(t.shape)) for n, t in mine.items()]
            b_ = [(n, tuple(t.shape)) for n, t in ref.items()]
            if a_ != b_:
                raise AssertionError("teacher state_dict differs from torchvision wide_resnet50_2")
            log("teacher state_dict equals torchvision wide_resnet50_2: %d entries" % len(a_))
        nt = sum(p.numel() for n, p in te.named_parameters() if not n.startswith(("layer4", "fc")))
        log("teacher parameters used (stem + layer1..3) at base %d: %d" % (a.base, nt))
    finally:
        _DEVICE = None


def main(argv=None):
    ap = argparse.ArgumentParser(prog="crd_reference.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True, metavar="command")

    def common(p):
        p.add_argument("--out", required=True, help="output directory")
        p.add_argument("--base", type=int, default=4, help="base width b (paper 64); channels scale with it")
        p.add_argument("--size", type=int, default=64, help="input size S (paper 256), multiple of 32")
        p.add_argument("--seed", type=int, default=0, help="seed for weights and inputs")

    p = sub.add_parser("network", help="weights, inputs and eval-mode reference activations/maps")
    common(p)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--legacy-teacher", action="store_true",
                   help="also write teacher_legacy.pth in the pre-1.6 (non-zip) torch.save format")
    p.add_argument("--tsv", default=None, help="optionally check both branches against this state-dict tsv")
    p.add_argument("--ref-dtype", choices=["float32", "float64"], default="float32",
                   help="dtype of the reference forward (float64: float32 weights/inputs evaluated exactly; the float32 "
                        "forward then also goes to ref_f32/)")
    p.set_defaults(func=cmd_network)

    p = sub.add_parser("few-modal", help="weights, inputs and the one-modality-missing outputs (spec 17.2)")
    common(p)
    p.set_defaults(func=cmd_few_modal)

    p = sub.add_parser("train-step", help="weights, inputs, then K training iterations (spec section 7)")
    common(p)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--semantics", choices=["detached", "joint"], default="detached",
                   help="fusion gradient semantics (spec 6.3): detached = paper-era, joint = no detaches")
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--legacy-teacher", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="training dtype (weights and inputs are saved as float32 either way)")
    p.set_defaults(func=cmd_train_step)

    p = sub.add_parser("fuse-maps", help="spec 8.3 fused smoothed map and scores from two raw maps (scipy)")
    p.add_argument("--out", required=True)
    p.add_argument("--rgb-map", required=True)
    p.add_argument("--depth-map", required=True)
    p.add_argument("--stats", required=True)
    p.set_defaults(func=cmd_fuse_maps)

    p = sub.add_parser("rd", help="RD baseline OCBE + plain decoder: weights, input, eval-mode outputs")
    common(p)
    p.set_defaults(func=cmd_rd)

    p = sub.add_parser("bench", help="time the eval-mode CRD inference (prints JSON)")
    common(p)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default 2)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("train-bench", help="time CRD training iterations (prints JSON samples/s)")
    common(p)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--semantics", choices=["detached", "joint"], default="detached")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default 2)")
    p.set_defaults(func=cmd_train_bench)

    p = sub.add_parser("ops", help="single-op fixtures under DIR/ops/<case>/")
    common(p)
    p.set_defaults(func=cmd_ops)

    p = sub.add_parser("check-spec", help="compare a branch state_dict with crd-branch-state-dict.tsv")
    p.add_argument("--tsv", required=True)
    p.add_argument("--base", type=int, default=64)
    p.add_argument("--out", default=None, help="unused")
    p.set_defaults(func=cmd_check_spec)

    a = ap.parse_args(argv)
    if getattr(a, "threads", None):
        torch.set_num_threads(a.threads)
    log("crd_reference %s (torch %s, %d threads): %s" % (a.command, torch.__version__, torch.get_num_threads(),
                                                         " ".join(sys.argv[1:])))
    a.func(a)


if __name__ == "__main__":
    main()
