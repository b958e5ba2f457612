// Services that the simulator's driver (libcuda.so.1) gives its cuBLAS (libcublas.so.13).
#pragma once
#include <cuda.h>
#include <stdint.h>
#include <functional>

// Queues work on a stream (null: the legacy stream); takes ownership of work. CUDA_SUCCESS or the error.
extern "C" int pmxsim_enqueue(CUstream stream, std::function<CUresult()>* work);
// Whether [p, p + n) lies inside one live device allocation.
extern "C" int pmxsim_in_allocation(uintptr_t p, size_t n);
