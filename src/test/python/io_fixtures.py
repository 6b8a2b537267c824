"""Reference files for the crd4j.io tests, written by numpy / torch themselves.

Usage: io_fixtures.py <command> <dir>
  npy DIR        numpy writes arrays (np_*.npy) and their exact values (np_values.json)
  npycheck DIR   numpy loads every j_*.npy written by Java and prints their values as JSON
  pth DIR        torch.save writes checkpoints (zip, legacy, protocol 4) plus one .npy per tensor (ref/)
  evil DIR       pickles that run a shell command when loaded by Python's pickle (must be refused)
  stcheck FILE   parses a safetensors file per the published format and prints tensors, metadata and
                 the crd4j model checksum (as documented in crd4j.io.ModelFile) as JSON
  stwrite DIR    writes a safetensors file per the published format (py.safetensors + py_st_values.json)

Only numpy is needed for npy/npycheck/stcheck/stwrite; pth and evil need torch.
"""
import collections
import hashlib
import json
import os
import pickle
import shlex
import struct
import sys
import zipfile

import numpy as np


def values(a):
    """Exact element values: floats via repr (round-trips), NaN/inf as strings."""
    out = []
    for v in np.asarray(a).reshape(-1).tolist():
        if isinstance(v, float) and (v != v or v in (float('inf'), float('-inf'))):
            out.append(repr(v))
        else:
            out.append(v)
    return out


def describe(a):
    return {'descr': a.dtype.str, 'shape': list(a.shape), 'values': values(a)}


def cmd_npy(d):
    rng = np.random.default_rng(7)
    arrays = {
        'f4': (rng.standard_normal((3, 4)) * 100).astype('<f4'),
        'f4_special': np.array([0.0, -0.0, np.inf, -np.inf, 1e-45, 3.4028235e38], dtype='<f4'),
        'f8': rng.standard_normal((2, 3, 2)),
        'i8': np.array([[-(2 ** 63), 2 ** 63 - 1, 0], [1, -1, 123456789012]], dtype='<i8'),
        'i4': np.arange(-5, 7, dtype='<i4').reshape(2, 2, 3),
        'u1': np.array([0, 1, 127, 128, 255], dtype='|u1'),
        'f2': np.array([1.5, -2.25, 65504.0, 6e-8, 0.1], dtype='<f2'),
        'b1': np.array([[True, False], [False, True]]),
        'scalar0d': np.array(2.5, dtype='<f4'),
        'empty': np.zeros((0, 3), dtype='<f8'),
        'big_endian': np.array([1.0, -3.5], dtype='>f4'),
    }
    for name, a in arrays.items():
        np.save(os.path.join(d, 'np_%s.npy' % name), a)
    # Explicit format versions 2.0 and 3.0 (numpy picks them only for huge or non-latin-1 headers).
    for ver in (2, 3):
        a = np.arange(6, dtype='<i8').reshape(3, 2)
        with open(os.path.join(d, 'np_v%d.npy' % ver), 'wb') as f:
            np.lib.format.write_array(f, a, version=(ver, 0))
        arrays['v%d' % ver] = a
    fortran = np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3))
    np.save(os.path.join(d, 'np_fortran.npy'), fortran)
    with open(os.path.join(d, 'np_values.json'), 'w') as f:
        json.dump({k: describe(v) for k, v in arrays.items()}, f)


def cmd_npycheck(d):
    out = {}
    for name in sorted(os.listdir(d)):
        if name.startswith('j_') and name.endswith('.npy'):
            a = np.load(os.path.join(d, name), allow_pickle=False)
            out[name] = dict(describe(a), fortran=bool(np.isfortran(a) and a.ndim > 1))
    print(json.dumps(out))


def cmd_pth(d):
    import torch
    import torch._utils
    from torch import nn

    torch.manual_seed(1234)

    class Branch(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, bias=False)
            self.bn = nn.BatchNorm2d(8)
            self.fc = nn.Linear(5, 4)
            self.w_a = nn.Parameter(torch.randn(2))

    def branch_state():
        m = Branch()
        with torch.no_grad():
            m.bn.running_mean.normal_()
            m.bn.running_var.uniform_(0.5, 2.0)
            m.bn.num_batches_tracked += 7
        sd = m.state_dict()  # carries the `_metadata` attribute
        big = torch.randn(6, 10)
        sd['view.t'] = big.t()                  # transposed: non-contiguous
        sd['view.slice'] = big[2:5, 3:9:2]      # offset and step, same storage as view.t
        sd['view.row'] = big[4]                 # 1-D slice with an offset, same storage
        sd['expanded'] = torch.randn(3, 1).expand(3, 4)  # stride 0
        sd['f64'] = torch.randn(3, 2, dtype=torch.float64)
        sd['i32'] = torch.arange(-3, 3, dtype=torch.int32)
        sd['u8'] = torch.tensor([0, 7, 255], dtype=torch.uint8)
        sd['bool'] = torch.tensor([True, False, True])
        sd['f16'] = torch.randn(4).half()
        sd['bf16'] = torch.randn(4).bfloat16()
        sd['scalar_f32'] = torch.tensor(3.25)
        sd['empty'] = torch.zeros(0, 3)
        return sd

    class ParamWithState:
        """Pickles as torch._utils._rebuild_parameter_with_state (what torch >= 2.0 emits for a Parameter with
        attributes); torch 1.13 lacks the function, so a stand-in is registered under that name."""
        def __init__(self, t):
            self.t = t

        def __reduce__(self):
            return (torch._utils._rebuild_parameter_with_state,
                    (self.t, True, collections.OrderedDict(), {'note': 'x'}))

    if not hasattr(torch._utils, '_rebuild_parameter_with_state'):
        def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
            return nn.Parameter(data, requires_grad)
        _rebuild_parameter_with_state.__module__ = 'torch._utils'
        _rebuild_parameter_with_state.__qualname__ = '_rebuild_parameter_with_state'
        torch._utils._rebuild_parameter_with_state = _rebuild_parameter_with_state

    rgb = branch_state()
    depth = branch_state()
    param = nn.Parameter(torch.randn(2, 2))
    obj = {
        'student_rgb': rgb,
        'student_depth': depth,
        'same_rgb': rgb,                     # the same object twice (pickle memo)
        'param': param,                      # torch._utils._rebuild_parameter
        'param_state': ParamWithState(torch.arange(3, dtype=torch.float32)),
        'epoch': 3, 'lr': 0.001, 'name': 'crd', 'neg': -5, 'big': 2 ** 40, 'huge': 2 ** 70,
        'flags': [True, None, False], 'pair': (1, 2.5), 'nested': {'a': {'b': 1}},
    }
    torch.save(obj, os.path.join(d, 'zip.pth'))
    torch.save(obj, os.path.join(d, 'zip_p4.pth'), pickle_protocol=4)
    torch.save(obj, os.path.join(d, 'legacy.pth'), _use_new_zipfile_serialization=False)

    # torchvision-style: a plain state_dict at top level, legacy format.
    tv = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)).state_dict()
    torch.save(tv, os.path.join(d, 'tv_legacy.pth'), _use_new_zipfile_serialization=False)

    ref = os.path.join(d, 'ref')
    os.makedirs(ref, exist_ok=True)
    manifest = {}

    def dump(path, t):
        t = t.detach()
        if t.dtype == torch.bfloat16:
            t = t.float()  # numpy has no bfloat16; widening is exact
        fname = '%d.npy' % len(manifest)
        np.save(os.path.join(ref, fname), t.contiguous().numpy())
        manifest[path] = fname

    for branch in ('student_rgb', 'student_depth'):
        for k, v in obj[branch].items():
            dump(branch + '/' + k, v)
    dump('param', param)
    dump('param_state', torch.arange(3, dtype=torch.float32))
    for k, v in tv.items():
        dump('tv/' + k, v)
    with open(os.path.join(ref, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)


def cmd_evil(d):
    target = os.path.join(d, 'pwned')

    class Evil:
        def __init__(self, path):
            self.path = path

        def __reduce__(self):
            return (os.system, ('touch ' + shlex.quote(self.path),))

    def zip_pth(name, payload):
        with zipfile.ZipFile(os.path.join(d, name), 'w', zipfile.ZIP_STORED) as z:
            z.writestr('archive/data.pkl', payload)
            z.writestr('archive/version', '3\n')

    # Proof that the payload is live: Python's own unpickler runs the command.
    control = os.path.join(d, 'control')
    pickle.loads(pickle.dumps({'w': Evil(control)}, protocol=2))
    if not os.path.exists(control):
        sys.exit('control payload did not run; the fixtures would prove nothing')
    os.remove(control)

    zip_pth('evil_zip.pth', pickle.dumps({'w': Evil(target)}, protocol=2))
    zip_pth('evil_zip_p4.pth', pickle.dumps({'w': Evil(target)}, protocol=4))
    with open(os.path.join(d, 'evil_legacy.pth'), 'wb') as f:
        pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({'protocol_version': 1001, 'little_endian': True,
                     'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, f, protocol=2)
        pickle.dump({'w': Evil(target)}, f, protocol=2)
        pickle.dump([], f, protocol=2)
    # A bare pickle (no torch.save framing) straight in a .pth file.
    with open(os.path.join(d, 'evil_plain.pth'), 'wb') as f:
        pickle.dump(Evil(target), f, protocol=2)
    try:
        import torch
        # Plain pickle of a tensor: its storage reduces through torch.storage._load_from_bytes (torch.load(bytes)).
        zip_pth('storage_bytes.pth', pickle.dumps({'t': torch.zeros(2)}, protocol=2))
    except ImportError:
        pass


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    n, = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    data = raw[8 + n:]
    return header, data


NP = {'F32': '<f4', 'F64': '<f8', 'I64': '<i8', 'I32': '<i4', 'U8': '|u1'}


def cmd_stcheck(path):
    header, data = read_safetensors(path)
    meta = header.pop('__metadata__', {})
    out = {'metadata': meta, 'tensors': {}, 'order': []}
    table = sorted(header.items(), key=lambda kv: kv[1]['data_offsets'])
    for name, e in table:
        b, end = e['data_offsets']
        a = np.frombuffer(data[b:end], dtype=NP[e['dtype']]).reshape(e['shape'])
        out['tensors'][name] = dict(describe(a), dtype=e['dtype'])
        out['order'].append(name)
    if 'crd4j' in meta:
        h = hashlib.sha256()
        h.update(b'crd4j-model-sha256-v1\n')
        for name, e in table:
            nb = name.encode('utf-8')
            h.update(struct.pack('<I', len(nb)) + nb)
            db = e['dtype'].encode('ascii')
            h.update(struct.pack('<I', len(db)) + db)
            h.update(struct.pack('<I', len(e['shape'])))
            for dim in e['shape']:
                h.update(struct.pack('<Q', dim))
            h.update(struct.pack('<QQ', *e['data_offsets']))
        mb = meta['crd4j'].encode('utf-8')
        h.update(struct.pack('<Q', len(mb)) + mb)
        h.update(data)
        out['sha256'] = h.hexdigest()
    print(json.dumps(out))


def cmd_stwrite(d):
    rng = np.random.default_rng(3)
    tensors = collections.OrderedDict([
        ('b.weight', rng.standard_normal((2, 3)).astype('<f4')),
        ('a.count', np.array(7, dtype='<i8')),
        ('c.mask', np.array([0, 255, 3], dtype='|u1')),
        ('d.double', rng.standard_normal(4)),
        ('e.ints', np.array([[-1, 2]], dtype='<i4')),
    ])
    header = {'__metadata__': {'format': 'pt', 'who': 'numpy'}}
    data = b''
    for name, a in tensors.items():
        buf = a.tobytes()
        header[name] = {'dtype': {'<f4': 'F32', '<f8': 'F64', '<i8': 'I64', '<i4': 'I32', '|u1': 'U8'}[a.dtype.str],
                        'shape': list(a.shape), 'data_offsets': [len(data), len(data) + len(buf)]}
        data += buf
    hb = json.dumps(header, sort_keys=True).encode('utf-8')
    hb += b' ' * (-len(hb) % 8)
    with open(os.path.join(d, 'py.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(hb)) + hb + data)
    with open(os.path.join(d, 'py_st_values.json'), 'w') as f:
        json.dump({k: describe(v) for k, v in tensors.items()}, f)


if __name__ == '__main__':
    cmd, arg = sys.argv[1], sys.argv[2]
    {'npy': cmd_npy, 'npycheck': cmd_npycheck, 'pth': cmd_pth, 'evil': cmd_evil,
     'stcheck': cmd_stcheck, 'stwrite': cmd_stwrite}[cmd](arg)
