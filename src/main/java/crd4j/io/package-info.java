/**
 * File formats crd4j reads and writes: NumPy {@code .npy} arrays ({@link crd4j.io.Npy}), PyTorch checkpoints read by
 * a restricted, non-executing pickle interpreter ({@link crd4j.io.TorchCheckpoint}), safetensors
 * ({@link crd4j.io.Safetensors}) and crd4j's own checksummed model file ({@link crd4j.io.ModelFile}).
 *
 * <p>Every malformed input is reported as a {@link crd4j.io.WeightsFormatException} with a one-line message naming
 * the file; every write goes through {@link crd4j.io.AtomicFiles}, so a failed or interrupted write never leaves a
 * partial file under the target name.
 */
package crd4j.io;
