// The interface between the Panamax CUDA simulator's driver (libcuda.so.1 of gpu/sim) and the
// kernel modules its NVRTC stand-in compiles with the host C++ compiler. Test-only: the product
// never loads this code; it exists so that the CUDA path (FFM bindings, CudaBackend and the real
// .cu kernel sources) can run on a machine without a GPU.
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct { unsigned int x, y, z; } pmx_dim3;

// The most dynamic shared memory a block may have (an H100's opt-in limit)
#define PMX_MAX_DYNAMIC_SHARED 232448

// The CUDA thread being run: its built-in variables, its launch's bytes of dynamic shared memory,
// and whether it has executed griddepcontrol.wait (set by the kernel; a launch with programmatic
// stream serialization fails if any of its threads ends without it).
typedef struct {
    pmx_dim3 threadIdx, blockIdx, blockDim, gridDim;
    unsigned int dynamicShared;
    unsigned int gridWaited;
} pmx_thread;

// Warp-level operations of pmx_rt.warp
enum { PMX_SHFL_XOR = 0, PMX_SHFL_DOWN = 1, PMX_SHFL_UP = 2, PMX_SHFL_IDX = 3, PMX_SYNCWARP = 4, PMX_BALLOT = 5 };

// Services of the simulated device, handed to each module when it is loaded.
typedef struct {
    pmx_thread* const* current;                 // the running thread
    void (*syncthreads)(void);                  // block barrier
    unsigned int (*warp)(int op, unsigned int mask, unsigned int value, int arg, int width);
    void (*trap)(const char* why);              // __trap(): aborts the launch
    // named barrier `id` (1-15) of `count` threads (bar.sync id, count when wait, else bar.arrive id, count)
    void (*barrier)(int id, int count, int wait);
    // lets the block's other warps run before this thread goes on (as it may fall behind on a GPU)
    void (*yield)(void);
} pmx_rt;

// One kernel of a module (exported as __pmx_kernel_<name>).
typedef struct {
    size_t argBytes;                            // size of the packed arguments
    void (*pack)(void* const* params, void* buf);   // copies cuLaunchKernel's parameters into buf
    void (*run)(void* buf);                     // runs the kernel body for the current thread
    int maxThreads;                             // __launch_bounds__, or 0
} pmx_kernel;

#ifdef __cplusplus
}
#endif
