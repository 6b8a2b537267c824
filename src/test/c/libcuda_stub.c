/*
 * A stand-in for the NVIDIA driver library (libcuda.so.1), for testing on machines without a GPU how crd4j and
 * benchmarks/device/run.sh fail when the driver works but a library after it does not (cuDNN). It implements only
 * what CudaDevice.open and the start of the CudaBackend constructor call; JCuda's JNI library binds the rest lazily
 * and never calls it. Built by RunShFailFastTest with: cc -shared -fPIC -o libcuda.so.1 libcuda_stub.c
 * -DSTUB_NO_DEVICE makes cuInit report CUDA_ERROR_NO_DEVICE (100) instead.
 */
#include <string.h>
#include <stddef.h>

int cuInit(unsigned int flags) {
    (void) flags;
#ifdef STUB_NO_DEVICE
    return 100;
#else
    return 0;
#endif
}
int cuDriverGetVersion(int *v) { *v = 13000; return 0; }
int cuDeviceGetCount(int *n) { *n = 1; return 0; }
int cuDeviceGet(int *dev, int ordinal) { *dev = ordinal; return 0; }
int cuDeviceGetName(char *name, int len, int dev) {
    (void) dev;
    strncpy(name, "stand-in GPU (libcuda_stub.c)", (size_t) len);
    if (len > 0) name[len - 1] = 0;
    return 0;
}
int cuDeviceGetAttribute(int *v, int attribute, int dev) { (void) attribute; (void) dev; *v = 9; return 0; }
int cuDevicePrimaryCtxRetain(void **ctx, int dev) { (void) dev; *ctx = (void *) 0x1000; return 0; }
int cuDevicePrimaryCtxRelease(int dev) { (void) dev; return 0; }
int cuCtxSetCurrent(void *ctx) { (void) ctx; return 0; }
int cuMemGetInfo_v2(size_t *free, size_t *total) { *free = (size_t) 1 << 34; *total = (size_t) 1 << 34; return 0; }
int cuStreamCreate(void **stream, unsigned int flags) { (void) flags; *stream = (void *) 0x2000; return 0; }
int cuStreamSynchronize(void *stream) { (void) stream; return 0; }
int cuStreamDestroy_v2(void *stream) { (void) stream; return 0; }
