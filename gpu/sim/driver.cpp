// libcuda.so.1 of the Panamax CUDA simulator (test-only; see README.md beside this file): the
// driver API that Panamax binds, over host memory, running kernels on the CPU.
//
// Semantics kept from CUDA, so that host-side bugs show here as they would on a GPU:
//  - work on a stream runs as late as CUDA allows (at a synchronisation, a blocking copy, or when
//    the queue is long), so reading results before synchronising, or reusing a pinned buffer
//    before its async copy ran, gives wrong data; non-blocking streams do not order with the
//    legacy stream, blocking ones do;
//  - "device memory" is an arena that is inaccessible (PROT_NONE) except while queued work runs,
//    so the host touching device memory faults; new allocations are filled with 0xFF (NaN);
//  - copies and memsets must stay inside one live allocation; calls need a current context;
//    launches are checked (grid and block limits, __launch_bounds__, empty grids);
//  - __syncthreads must be reached by every thread of the block, and a full-warp shuffle by all
//    32 lanes; a named barrier (bar.sync / bar.arrive) completes with its count of threads, and
//    must not be left part-way when the block ends; __trap() fails the launch, and the error is
//    sticky as on a GPU.
#include <cuda.h>
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cudasim.h"
#include "cudasim_abi.h"

namespace {

std::recursive_mutex lock;
#define LOCKED std::lock_guard<std::recursive_mutex> guard(lock)

CUresult sticky = CUDA_SUCCESS;  // a failed launch poisons the context, as on a GPU
bool initialised = false;
int ctxToken;                      // the primary context's identity
thread_local CUcontext current = nullptr;

const CUcontext PRIMARY = reinterpret_cast<CUcontext>(&ctxToken);

CUresult fail(CUresult rc, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
CUresult fail(CUresult rc, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::fprintf(stderr, "[cuda simulator] ");
    std::vfprintf(stderr, fmt, ap);
    std::fprintf(stderr, "\n");
    va_end(ap);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Device memory: one reserved arena, first-fit with coalescing, 256-byte aligned.
size_t capacity() {
    const char* v = std::getenv("PANAMAX_CUDASIM_MEMORY_MB");
    size_t mb = v ? std::strtoull(v, nullptr, 10) : 8192;
    return mb << 20;
}
char* arena = nullptr;
size_t arenaSize = 0, used = 0;
std::map<size_t, size_t> freeList;  // offset -> bytes
std::map<uintptr_t, size_t> live;   // address -> bytes (as allocated, before rounding)
int openWindows = 0;

// $PANAMAX_CUDASIM_HOST_ONLY (see runKernel): the host's side is being timed, so device memory stays
// open to the host (no mprotect windows, whose cost grows with the memory touched).
bool hostOnly() {
    static const bool on = std::getenv("PANAMAX_CUDASIM_HOST_ONLY") != nullptr;
    return on;
}

bool reserveArena() {
    if (arena) return true;
    size_t bytes = capacity();
    void* p = mmap(nullptr, bytes, hostOnly() ? PROT_READ | PROT_WRITE : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        std::perror("[cuda simulator] cannot reserve the device memory (PANAMAX_CUDASIM_MEMORY_MB)");
        return false;
    }
    arena = static_cast<char*>(p);
    arenaSize = bytes;
    freeList[0] = arenaSize;
    return true;
}

bool protect(int prot) {
    if (!arena || hostOnly() || mprotect(arena, arenaSize, prot) == 0) return true;
    std::perror("[cuda simulator] mprotect of the device memory");
    return false;
}

// Device memory is accessible only inside a window (queued work running, or the simulator's own
// fills); the host outside one faults on it. A window that cannot open leaves open false, and the
// caller fails with CUDA_ERROR_UNKNOWN rather than touch the memory.
struct Window {
    bool open;
    Window() : open(openWindows++ > 0 || protect(PROT_READ | PROT_WRITE)) {}
    ~Window() { if (--openWindows == 0) protect(PROT_NONE); }
};

// Whether [p, p + n) lies in one live allocation.
bool inAllocation(uintptr_t p, size_t n) {
    auto it = live.upper_bound(p);
    if (it == live.begin()) return false;
    --it;
    return p >= it->first && p + n <= it->first + it->second && p + n >= p;
}

// ---------------------------------------------------------------------------------------------
// Streams: queues of work run as late as CUDA allows.
struct Op {
    unsigned long long seq;
    std::function<CUresult()> run;
};
// A captured graph: the work a stream's capture recorded, in order (each op runs as it would have
// on the stream, reading its arguments as they were at the call: kernel parameters by value,
// device and page-locked host memory when it runs).
struct Graph {
    std::vector<std::function<CUresult()>> ops;
};
struct Stream {
    bool blocking;
    std::deque<Op> queue;
    Graph* capture = nullptr;   // while capturing: where its work goes instead of the queue
    bool invalidated = false;   // a call that capture cannot record was made during it
};
Stream legacy{true, {}};
std::vector<Stream*> streams;  // created streams
unsigned long long nextSeq = 1, queued = 0;
const unsigned long long MAX_QUEUED = 4096;

Stream* resolve(CUstream s) { return s ? reinterpret_cast<Stream*>(s) : &legacy; }

// A call that stream capture cannot record, made on a capturing stream (or, for a context-wide
// wait, while any stream captures): CUDA fails it and invalidates the capture, whose end then fails.
CUresult breaksCapture(Stream* s, const char* what) {
    s->invalidated = true;
    std::fprintf(stderr, "[cuda simulator] %s during stream capture: not allowed (the capture is invalidated)\n", what);
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}
Stream* capturingStream() {
    for (Stream* o : streams) if (o->capture) return o;
    return nullptr;
}

void drain(Stream* s, unsigned long long upTo);

// Runs the oldest op of s, first running what CUDA orders before it on other streams.
void runFront(Stream* s) {
    Op op = std::move(s->queue.front());
    s->queue.pop_front();
    queued--;
    if (s == &legacy) {
        for (Stream* o : streams) if (o->blocking) drain(o, op.seq);
    } else if (s->blocking) {
        drain(&legacy, op.seq);
    }
    if (sticky != CUDA_SUCCESS) return;  // a poisoned context runs nothing more
    CUresult rc = op.run();
    if (rc != CUDA_SUCCESS) sticky = rc;
}

void drain(Stream* s, unsigned long long upTo) {
    if (s->queue.empty() || s->queue.front().seq > upTo) return;
    Window w;  // one window for the whole drain: mprotect costs in proportion to the memory touched
    if (!w.open) {
        sticky = CUDA_ERROR_UNKNOWN;
        return;
    }
    while (!s->queue.empty() && s->queue.front().seq <= upTo) runFront(s);
}

void drainAll() {
    drain(&legacy, ~0ull);
    for (Stream* o : streams) drain(o, ~0ull);
}

unsigned long long enqueue(Stream* s, std::function<CUresult()> fn) {
    if (s->capture) {   // recorded into the graph, not run (seq 0: nothing waits for it)
        s->capture->ops.push_back(std::move(fn));
        return 0;
    }
    unsigned long long seq = nextSeq++;
    s->queue.push_back(Op{seq, std::move(fn)});
    if (++queued > MAX_QUEUED) drainAll();  // bounded memory: running early is always allowed
    return seq;
}

// ---------------------------------------------------------------------------------------------
// Pinned host memory
std::map<uintptr_t, size_t> pinned;
bool isPinned(const void* p, size_t n) {
    uintptr_t a = reinterpret_cast<uintptr_t>(p);
    auto it = pinned.upper_bound(a);
    if (it == pinned.begin()) return false;
    --it;
    return a >= it->first && a + n <= it->first + it->second;
}

CUresult ready() {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (current == nullptr) return fail(CUDA_ERROR_INVALID_CONTEXT, "no current context on this thread");
    return sticky;
}
#define READY \
    LOCKED;   \
    if (CUresult rc_ = ready()) return rc_

// ---------------------------------------------------------------------------------------------
// Fibers: a stack each, and a switch that saves only what the calling convention asks to keep
// (on x86-64 a few instructions, where swapcontext makes two system calls).
#if defined(__x86_64__)
extern "C" void pmxsim_switch(void** save, void* to);
asm(R"(
    .text
    .globl pmxsim_switch
    .type pmxsim_switch, @function
pmxsim_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size pmxsim_switch, .-pmxsim_switch
)");
struct Context {
    void* sp = nullptr;
};
// A fresh context that starts in entry (which must never return) on [stack, stack + bytes).
void prepare(Context& c, char* stack, size_t bytes, void (*entry)()) {
    uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + bytes) & ~uintptr_t(15);
    uint64_t* sp = reinterpret_cast<uint64_t*>(top);
    *--sp = 0;                                      // entry's return address (never used)
    *--sp = reinterpret_cast<uint64_t>(entry);      // where the switch returns to
    for (int i = 0; i < 6; i++) *--sp = 0;          // rbp, rbx, r12-r15
    *--sp = 0x1f80ull | (0x037full << 32);          // MXCSR and the x87 control word, at defaults
    c.sp = sp;
}
void swap(Context& from, Context& to) { pmxsim_switch(&from.sp, to.sp); }
#else
#include <ucontext.h>
struct Context {
    ucontext_t uc;
};
void prepare(Context& c, char* stack, size_t bytes, void (*entry)()) {
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack;
    c.uc.uc_stack.ss_size = bytes;
    c.uc.uc_link = nullptr;
    makecontext(&c.uc, entry, 0);
}
void swap(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
#endif

// ---------------------------------------------------------------------------------------------
// Kernels: each block's threads are fibers on this OS thread.
enum State { RUNNABLE, AT_BARRIER, AT_NAMED, AT_WARP, DONE };
struct Fiber {
    Context ctx;
    char* stack = nullptr;
    State state = DONE;
    pmx_thread t;
    int op = 0, arg = 0, width = 32;
    unsigned int mask = 0, value = 0, result = 0;
    int named = 0;   // AT_NAMED: the barrier it waits at
};
const size_t STACK = 256 << 10;
std::vector<Fiber> fibers(1024);
Context scheduler;
pmx_thread* running = nullptr;
Fiber* runningFiber = nullptr;
const pmx_kernel* launchKernel = nullptr;
void* launchArgs = nullptr;
std::string trapReason;

void fiberMain() {
    launchKernel->run(launchArgs);
    runningFiber->state = DONE;
    swap(runningFiber->ctx, scheduler);
}

void yieldTo(State s) {
    Fiber* f = runningFiber;
    f->state = s;
    swap(f->ctx, scheduler);
}

void simSyncthreads() { yieldTo(AT_BARRIER); }

// Named barriers 1-15 of the running block: the count of threads the current phase needs (set by
// its first arrival) and how many have arrived. A phase completes at its count, opens for the threads
// that wait at it, and the barrier starts over. A thread that arrives without waiting (bar.arrive)
// yields, so that the other warps, those it opened the barrier for among them, may run before it
// goes on: work it does after signalling that it was done shows if it was not.
struct NamedBarrier { int count = 0, arrived = 0; };
NamedBarrier named[16];
int blockThreads = 0;

[[noreturn]] void simTrap(const char* why);

void simBarrier(int id, int count, int wait) {
    static char why[200];
    if (id < 1 || id > 15) {
        std::snprintf(why, sizeof why, "named barrier %d: ids are 1 to 15 (0 is __syncthreads')", id);
        simTrap(why);
    }
    if (count <= 0 || count % 32 != 0 || count > blockThreads) {
        std::snprintf(why, sizeof why, "named barrier %d: a count of %d threads, not a multiple of 32 from 32 to the block's %d", id, count, blockThreads);
        simTrap(why);
    }
    NamedBarrier& b = named[id];
    if (b.arrived == 0) b.count = count;
    else if (b.count != count) {
        std::snprintf(why, sizeof why, "named barrier %d: threads arrive with counts %d and %d in one phase", id, b.count, count);
        simTrap(why);
    }
    if (++b.arrived == b.count) {
        b.arrived = 0;
        for (int i = 0; i < blockThreads; i++)
            if (fibers[i].state == AT_NAMED && fibers[i].named == id) fibers[i].state = RUNNABLE;
    } else if (wait) {
        runningFiber->named = id;
        yieldTo(AT_NAMED);
        return;
    }
    if (!wait) yieldTo(RUNNABLE);   // the threads an arrival opens the barrier for may run first: a signal sent too early shows
}

unsigned int simWarp(int op, unsigned int mask, unsigned int value, int arg, int width) {
    Fiber* f = runningFiber;
    f->op = op;
    f->mask = mask;
    f->value = value;
    f->arg = arg;
    f->width = width;
    yieldTo(AT_WARP);
    return f->result;
}

[[noreturn]] void simTrap(const char* why) {
    trapReason = why;
    runningFiber->state = DONE;
    swap(runningFiber->ctx, scheduler);
    std::abort();  // never resumed
}

void simYield() { yieldTo(RUNNABLE); }

const pmx_rt RT = {&running, &simSyncthreads, &simWarp, &simTrap, &simBarrier, &simYield};

// Completes the warp operation at which the lanes of the warp starting at thread w0 wait, once
// every lane that its mask names is there: 1 when done, 0 when some lane is still on its way, -1
// on a fault (error says which).
int resolveWarp(int w0, int n, std::string& error) {
    int lanes = std::min(32, n - w0);
    Fiber* lead = nullptr;
    for (int l = 0; l < lanes; l++) if (fibers[w0 + l].state == AT_WARP) { lead = &fibers[w0 + l]; break; }
    if (!lead) return 0;
    unsigned int mask = lead->mask;
    for (int l = 0; l < 32; l++) {
        if (!(mask >> l & 1u)) continue;
        if (l >= lanes) { error = "a warp operation names lane " + std::to_string(l) + " of a warp of " + std::to_string(lanes) + " threads"; return -1; }
        Fiber& g = fibers[w0 + l];
        if (g.state == DONE) { error = "a warp operation names lane " + std::to_string(l) + ", which has exited"; return -1; }
        if (g.state != AT_WARP) return 0;
        if (g.op != lead->op || g.mask != mask || g.width != lead->width) { error = "lanes of a warp reached different warp operations"; return -1; }
    }
    if (lead->width != 32) { error = "the simulator shuffles only with width 32"; return -1; }
    unsigned int ballot = 0;   // PMX_BALLOT: the lanes of the mask with a non-zero value
    for (int l = 0; l < 32; l++) if (mask >> l & 1u && fibers[w0 + l].value) ballot |= 1u << l;
    for (int l = 0; l < 32; l++) {
        if (!(mask >> l & 1u)) continue;
        Fiber& g = fibers[w0 + l];
        if (g.op == PMX_BALLOT) {
            g.result = ballot;
            continue;
        }
        int src = l;
        switch (g.op) {
            case PMX_SHFL_XOR: src = l ^ g.arg; break;
            case PMX_SHFL_DOWN: src = l + g.arg < 32 ? l + g.arg : l; break;
            case PMX_SHFL_UP: src = l - g.arg >= 0 ? l - g.arg : l; break;
            case PMX_SHFL_IDX: src = g.arg & 31; break;
            default: break;
        }
        if (g.op != PMX_SYNCWARP && !(src < 32 && (mask >> src & 1u))) { error = "a shuffle reads lane " + std::to_string(src) + ", which is not in its mask"; return -1; }
        g.result = fibers[w0 + src].value;
    }
    for (int l = 0; l < 32; l++) if (mask >> l & 1u) fibers[w0 + l].state = RUNNABLE;
    return 1;
}

// PANAMAX_CUDASIM_SCHEDULE=random:SEED: instead of taking the warps in rounds, in index order (even
// blocks) or its reverse (odd ones), the scheduler runs one warp at a time, each time one drawn at
// random from those with a thread that can run (a generator seeded with SEED: the same runs for the
// same seed). A warp stops at each yield (a committed cp.async or wgmma group, a bar.arrive) or
// wait, so one warp can run many steps while another is held between two of its own, as a warp may
// fall behind on a GPU: hand-offs that hold only in the fixed orders show.
struct Schedule {
    bool random = false;
    unsigned long long state = 0;
    Schedule() {
        const char* v = std::getenv("PANAMAX_CUDASIM_SCHEDULE");
        if (!v || !*v || std::strcmp(v, "ordered") == 0) return;
        if (std::strncmp(v, "random:", 7) != 0) {
            std::fprintf(stderr, "[cuda simulator] PANAMAX_CUDASIM_SCHEDULE=%s: expected ordered or random:SEED\n", v);
            std::exit(2);
        }
        random = true;
        state = std::strtoull(v + 7, nullptr, 10) * 0x9E3779B97F4A7C15ull + 1;
    }
    unsigned int next(unsigned int bound) {   // splitmix64
        unsigned long long z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return (unsigned int) ((z ^ (z >> 31)) % bound);
    }
};
Schedule schedule;

// Runs the warp starting at thread w0 as far as it can: each of its threads that can run, in lane
// order (reverse: the other way), then its warp operations that all their lanes reached, again
// until none completes. Returns an error message, or empty.
std::string runWarp(int w0, int n, bool reverse) {
    std::string error;
    const int lanes = std::min(32, n - w0);
    for (;;) {
        for (int j = 0; j < lanes; j++) {
            Fiber& f = fibers[w0 + (reverse ? lanes - 1 - j : j)];
            if (f.state != RUNNABLE) continue;
            runningFiber = &f;
            running = &f.t;
            swap(scheduler, f.ctx);
            if (!trapReason.empty()) return trapReason;
        }
        int r = resolveWarp(w0, n, error);
        if (r < 0) return error;
        if (r == 0) return "";
    }
}

// Runs a block's n threads to their end; returns an error message, or empty. Each warp runs as far
// as it can (through its shuffles, up to a barrier or its end) before the next one starts, and odd
// blocks (reverse) take their warps and lanes in reverse order: a missing barrier shows whichever
// side runs ahead. A warp that a named barrier opens for runs again in the next round. Under a
// random schedule one warp drawn at random runs at a time (Schedule).
std::string runThreads(int n, int warps, bool reverse) {
    std::string error;
    std::vector<int> ready;
    for (;;) {
        if (schedule.random) {
            for (;;) {
                ready.clear();
                for (int w = 0; w < warps; w++)
                    for (int i = 32 * w; i < std::min(n, 32 * w + 32); i++)
                        if (fibers[i].state == RUNNABLE) {
                            ready.push_back(w);
                            break;
                        }
                if (ready.empty()) break;
                error = runWarp(32 * ready[schedule.next((unsigned int) ready.size())], n, reverse);
                if (!error.empty()) return error;
            }
        } else {
            for (int wi = 0; wi < warps; wi++) {
                error = runWarp(32 * (reverse ? warps - 1 - wi : wi), n, reverse);
                if (!error.empty()) return error;
            }
        }
        int done = 0, barrier = 0, waiting = 0, runnable = 0;
        for (int i = 0; i < n; i++) {
            done += fibers[i].state == DONE;
            barrier += fibers[i].state == AT_BARRIER;
            waiting += fibers[i].state == AT_NAMED;
            runnable += fibers[i].state == RUNNABLE;
        }
        if (runnable > 0) continue;
        if (done == n) return "";
        if (barrier + done < n)
            return "deadlock: " + std::to_string(barrier) + " threads wait at __syncthreads(), " + std::to_string(waiting) + " at named barriers and " +
                   std::to_string(n - barrier - waiting - done) + " at warp operations that cannot complete";
        if (done > 0) return "__syncthreads() reached while " + std::to_string(done) + " of the block's " + std::to_string(n) + " threads had exited";
        for (int i = 0; i < n; i++) fibers[i].state = RUNNABLE;
    }
}

// Runs one block; returns an error message, or empty. The launch's dynamic shared memory starts
// each block with every bit set (a float reads as NaN), as a GPU leaves it holding whatever was
// there: a read of what the block never wrote shows. So do the SHARED_MARGIN bytes past it, which
// must still be so when the block ends: a write past the launch's dynamic shared memory fails the
// launch.
const size_t SHARED_MARGIN = 16 << 10;
// A launch with programmatic stream serialization may start before the kernel ahead of it ends, so
// each of its threads must execute griddepcontrol.wait before it touches that kernel's memory; one
// that ends without it fails the launch here, though the simulator ran the kernel ahead to its end.
std::string runBlock(const pmx_kernel* k, void* args, pmx_dim3 grid, pmx_dim3 block, pmx_dim3 at, unsigned char* shared, unsigned int sharedBytes,
                     bool programmatic) {
    int n = block.x * block.y * block.z, warps = (n + 31) / 32;
    bool reverse = ((at.z * grid.y + at.y) * (unsigned long long) grid.x + at.x) & 1;
    launchKernel = k;
    launchArgs = args;
    const size_t span = std::min<size_t>(PMX_MAX_DYNAMIC_SHARED, sharedBytes + SHARED_MARGIN);
    std::memset(shared, 0xFF, span);
    for (int i = 0; i < n; i++) {
        Fiber& f = fibers[i];
        if (!f.stack) {
            void* s = mmap(nullptr, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (s == MAP_FAILED) return "cannot map a stack for thread " + std::to_string(i);
            f.stack = static_cast<char*>(s);
        }
        prepare(f.ctx, f.stack, STACK, &fiberMain);
        f.state = RUNNABLE;
        f.t.threadIdx = {(unsigned) (i % block.x), (unsigned) (i / block.x % block.y), (unsigned) (i / (block.x * block.y))};
        f.t.blockIdx = at;
        f.t.blockDim = block;
        f.t.gridDim = grid;
        f.t.dynamicShared = sharedBytes;
        f.t.gridWaited = 0;
    }
    blockThreads = n;
    for (NamedBarrier& b : named) b = NamedBarrier();
    std::string error = runThreads(n, warps, reverse);
    for (int id = 1; id < 16 && error.empty(); id++)
        if (named[id].arrived > 0)
            error = "named barrier " + std::to_string(id) + " left part-way: " + std::to_string(named[id].arrived) + " of its " + std::to_string(named[id].count) +
                    " threads arrived before the block ended";
    for (size_t i = sharedBytes; i < span && error.empty(); i++)
        if (shared[i] != 0xFF) error = "a write to dynamic shared memory at byte " + std::to_string(i) + ", past the launch's " + std::to_string(sharedBytes);
    for (int i = 0; i < n && error.empty() && programmatic; i++)
        if (!fibers[i].t.gridWaited) {
            const pmx_dim3& t = fibers[i].t.threadIdx;
            error = "launched with programmatic stream serialization, thread (" + std::to_string(t.x) + "," + std::to_string(t.y) + "," + std::to_string(t.z) +
                    ") ended without griddepcontrol.wait, so it may have raced with the kernel before it";
        }
    return error;
}

struct Function {
    const pmx_kernel* kernel;
    std::string name;
    unsigned char* dynamicShared;   // the module's (cudasim_device.h: __pmx_dynamic_shared)
    int maxDynamicShared = 48 << 10;
};
struct Module {
    void* handle;
    unsigned char* dynamicShared;
    std::map<std::string, std::unique_ptr<Function>> functions;  // one handle per kernel, as in CUDA
};

// Kernels launched in this process, written at exit to $PANAMAX_CUDASIM_LAUNCHES (one name per line,
// appended) when that is set: which kernels a test run reached. $PANAMAX_CUDASIM_LAUNCH_COUNTS gets
// each name with its number of launches (appended, one "count name" per line): where a step's launches go.
struct LaunchLog {
    std::map<std::string, unsigned long long> names;
    ~LaunchLog() {
        if (names.empty()) return;
        if (const char* path = std::getenv("PANAMAX_CUDASIM_LAUNCHES"))
            if (FILE* f = std::fopen(path, "a")) {
                for (const auto& n : names) std::fprintf(f, "%s\n", n.first.c_str());
                std::fclose(f);
            }
        if (const char* path = std::getenv("PANAMAX_CUDASIM_LAUNCH_COUNTS"))
            if (FILE* f = std::fopen(path, "a")) {
                for (const auto& n : names) std::fprintf(f, "%llu %s\n", n.second, n.first.c_str());
                std::fclose(f);
            }
    }
} launches;

// Counts of what costs time on a GPU whatever the kernels do, written at exit to
// $PANAMAX_CUDASIM_STATS (appended, one line) when that is set. A host wait is a call that waited
// for queued work, or a copy the host waits for; an idle one left nothing queued behind it, so a
// GPU would sit idle from its end until the host queues more work.
struct Stats {
    unsigned long long launches = 0, gemms = 0, hostWaits = 0, idleWaits = 0, uploads = 0, downloads = 0, allocs = 0, uploadBytes = 0, downloadBytes = 0;
    unsigned long long streamWaits = 0, ctxWaits = 0, eventWaits = 0, copyWaits = 0, frees = 0, peakBytes = 0, memsets = 0, graphLaunches = 0;
    unsigned long long programmaticLaunches = 0;
    ~Stats() {
        const char* path = std::getenv("PANAMAX_CUDASIM_STATS");
        if (!path) return;
        if (FILE* f = std::fopen(path, "a")) {
            std::fprintf(f, "launches=%llu gemms=%llu host_waits=%llu (stream %llu, context %llu, event %llu, blocking copy %llu; idle after %llu) uploads=%llu (%llu bytes) downloads=%llu (%llu bytes) memsets=%llu allocations=%llu frees=%llu peak_mib=%.1f graph_launches=%llu programmatic_launches=%llu\n",
                         launches, gemms, hostWaits, streamWaits, ctxWaits, eventWaits, copyWaits, idleWaits, uploads, uploadBytes, downloads, downloadBytes, memsets, allocs,
                         frees, peakBytes / 1048576.0, graphLaunches, programmaticLaunches);
            std::fclose(f);
        }
    }
} stats;

// $PANAMAX_CUDASIM_HOST_ONLY (a comma-separated list of kernels, possibly empty): only those kernels
// run, and cuBLAS computes nothing, so that a program's host side can be timed and profiled on its
// own. Results are garbage, except what the listed kernels compute (e.g. a router's choice, which
// the host reads back and indexes with).
bool hostOnlySkips(const std::string& name) {
    if (!hostOnly()) return false;
    static const char* list = std::getenv("PANAMAX_CUDASIM_HOST_ONLY");
    std::string l = std::string(",") + list + ",";
    return l.find("," + name + ",") == std::string::npos;
}

CUresult runKernel(Function* f, void* args, pmx_dim3 grid, pmx_dim3 block, unsigned int sharedBytes, bool programmatic) {
    launches.names[f->name]++;
    if (hostOnlySkips(f->name)) return CUDA_SUCCESS;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                std::string err = runBlock(f->kernel, args, grid, block, {x, y, z}, f->dynamicShared, sharedBytes, programmatic);
                if (!err.empty()) {
                    trapReason.clear();
                    return fail(CUDA_ERROR_LAUNCH_FAILED, "kernel %s, block (%u,%u,%u) of (%u,%u,%u), %u threads: %s", f->name.c_str(), x, y, z,
                                grid.x, grid.y, grid.z, block.x * block.y * block.z, err.c_str());
                }
            }
    return CUDA_SUCCESS;
}

struct Event {
    bool recorded = false, done = false;
    Stream* stream = nullptr;
    unsigned long long seq = 0;
    double ms = 0;
};

double nowMs() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

CUresult copyChecked(const char* what, uintptr_t p, size_t n) {
    if (n == 0 || inAllocation(p, n)) return CUDA_SUCCESS;
    return fail(CUDA_ERROR_INVALID_VALUE, "%s: [0x%lx, +%zu) is not inside one live device allocation", what, (unsigned long) p, n);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Services for the simulator's cuBLAS
extern "C" int pmxsim_enqueue(CUstream stream, std::function<CUresult()>* work) {
    LOCKED;
    stats.gemms++;
    if (CUresult rc = ready()) { delete work; return rc; }
    std::unique_ptr<std::function<CUresult()>> w(work);
    enqueue(resolve(stream), std::move(*w));
    return CUDA_SUCCESS;
}
extern "C" int pmxsim_in_allocation(uintptr_t p, size_t n) {
    LOCKED;
    return inAllocation(p, n);
}

// ---------------------------------------------------------------------------------------------
// The driver API
extern "C" {

CUresult cuInit(unsigned int flags) {
    LOCKED;
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (!reserveArena()) return CUDA_ERROR_OUT_OF_MEMORY;
    initialised = true;
    return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int* v) {
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = 13000;
    return CUDA_SUCCESS;
}

static const char* errorName(CUresult e) {
    switch (e) {
        case CUDA_SUCCESS: return "CUDA_SUCCESS";
        case CUDA_ERROR_INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
        case CUDA_ERROR_OUT_OF_MEMORY: return "CUDA_ERROR_OUT_OF_MEMORY";
        case CUDA_ERROR_NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
        case CUDA_ERROR_NO_DEVICE: return "CUDA_ERROR_NO_DEVICE";
        case CUDA_ERROR_INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
        case CUDA_ERROR_INVALID_IMAGE: return "CUDA_ERROR_INVALID_IMAGE";
        case CUDA_ERROR_INVALID_CONTEXT: return "CUDA_ERROR_INVALID_CONTEXT";
        case CUDA_ERROR_INVALID_HANDLE: return "CUDA_ERROR_INVALID_HANDLE";
        case CUDA_ERROR_NOT_FOUND: return "CUDA_ERROR_NOT_FOUND";
        case CUDA_ERROR_NOT_READY: return "CUDA_ERROR_NOT_READY";
        case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
        case CUDA_ERROR_LAUNCH_FAILED: return "CUDA_ERROR_LAUNCH_FAILED";
        case CUDA_ERROR_NOT_SUPPORTED: return "CUDA_ERROR_NOT_SUPPORTED";
        case CUDA_ERROR_UNKNOWN: return "CUDA_ERROR_UNKNOWN";
        default: return nullptr;
    }
}

CUresult cuGetErrorName(CUresult e, const char** s) {
    if (!s) return CUDA_ERROR_INVALID_VALUE;
    *s = errorName(e);
    return *s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult e, const char** s) {
    if (!s) return CUDA_ERROR_INVALID_VALUE;
    switch (e) {
        case CUDA_SUCCESS: *s = "no error"; break;
        case CUDA_ERROR_INVALID_VALUE: *s = "invalid argument"; break;
        case CUDA_ERROR_OUT_OF_MEMORY: *s = "out of memory"; break;
        case CUDA_ERROR_INVALID_CONTEXT: *s = "invalid device context"; break;
        case CUDA_ERROR_LAUNCH_FAILED: *s = "unspecified launch failure"; break;
        case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: *s = "too many resources requested for launch"; break;
        default: *s = errorName(e); break;
    }
    return *s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuDeviceGetCount(int* n) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (!n) return CUDA_ERROR_INVALID_VALUE;
    *n = 1;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice* d, int ordinal) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (!d) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *d = 0;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char* name, int len, CUdevice d) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    std::snprintf(name, len, "Panamax CUDA simulator (CPU, not a GPU)");
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int* v, CUdevice_attribute a, CUdevice d) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    switch (a) {  // an H100 SXM's values, for the attributes Panamax reads
        case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = 1024; break;
        case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 132; break;
        case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: *v = 2619000; break;
        case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: *v = 5120; break;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 9; break;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = 0; break;
        case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *v = PMX_MAX_DYNAMIC_SHARED; break;
        default: return fail(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetAttribute: attribute %d is not simulated", (int) a);
    }
    return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice d) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    *bytes = arenaSize;
    return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext* ctx, CUdevice d) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!ctx) return CUDA_ERROR_INVALID_VALUE;
    *ctx = PRIMARY;
    return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    return d == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

CUresult cuCtxSetCurrent(CUcontext ctx) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (ctx != nullptr && ctx != PRIMARY) return CUDA_ERROR_INVALID_CONTEXT;
    current = ctx;
    return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext* ctx) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (!ctx) return CUDA_ERROR_INVALID_VALUE;
    *ctx = current;
    return CUDA_SUCCESS;
}

CUresult cuCtxSynchronize() {
    READY;
    if (Stream* c = capturingStream()) return breaksCapture(c, "cuCtxSynchronize");
    bool idle = legacy.queue.empty();
    for (Stream* o : streams) idle &= o->queue.empty();
    if (!idle) {  // on a GPU, synchronising with nothing queued costs next to nothing
        stats.hostWaits++;
        stats.ctxWaits++;
        stats.idleWaits++;
    }
    drainAll();
    return sticky;
}

CUresult cuMemGetInfo_v2(size_t* freeBytes, size_t* total) {
    READY;
    if (!freeBytes || !total) return CUDA_ERROR_INVALID_VALUE;
    *freeBytes = arenaSize - used;
    *total = arenaSize;
    return CUDA_SUCCESS;
}

CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    READY;
    if (!p || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    size_t need = (bytes + 255) & ~size_t(255);
    for (auto it = freeList.begin(); it != freeList.end(); ++it) {
        if (it->second < need) continue;
        Window w;
        if (!w.open) return CUDA_ERROR_UNKNOWN;
        size_t at = it->first, left = it->second - need;
        freeList.erase(it);
        if (left) freeList[at + need] = left;
        used += need;
        stats.allocs++;
        if (used > stats.peakBytes) stats.peakBytes = used;
        live[reinterpret_cast<uintptr_t>(arena + at)] = bytes;
        std::memset(arena + at, 0xFF, need);  // uninitialised device memory reads as NaN
        *p = reinterpret_cast<CUdeviceptr>(arena + at);
        return CUDA_SUCCESS;
    }
    return CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult cuMemFree_v2(CUdeviceptr p) {
    READY;
    auto it = live.find(static_cast<uintptr_t>(p));
    if (it == live.end()) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemFree: 0x%llx is not a live allocation", (unsigned long long) p);
    // stricter than CUDA in relaxed mode: memory freed while a graph is being captured may be what it uses
    if (Stream* c = capturingStream()) return breaksCapture(c, "cuMemFree");
    drainAll();  // cuMemFree waits for the work that may use the memory
    size_t at = reinterpret_cast<char*>(p) - arena, need = (it->second + 255) & ~size_t(255);
    live.erase(it);
    used -= need;
    stats.frees++;
    madvise(arena + at, need, MADV_DONTNEED);
    auto next = freeList.lower_bound(at);
    if (next != freeList.end() && next->first == at + need) { need += next->second; freeList.erase(next); }
    auto prev = freeList.lower_bound(at);
    if (prev != freeList.begin()) {
        --prev;
        if (prev->first + prev->second == at) { prev->second += need; return CUDA_SUCCESS; }
    }
    freeList[at] = need;
    return CUDA_SUCCESS;
}

CUresult cuMemAllocHost_v2(void** p, size_t bytes) {
    READY;
    if (!p || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    void* m = std::aligned_alloc(4096, (bytes + 4095) & ~size_t(4095));
    if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
    pinned[reinterpret_cast<uintptr_t>(m)] = bytes;
    *p = m;
    return CUDA_SUCCESS;
}

CUresult cuMemFreeHost(void* p) {
    READY;
    auto it = pinned.find(reinterpret_cast<uintptr_t>(p));
    if (it == pinned.end()) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemFreeHost: %p was not allocated by cuMemAllocHost", p);
    drainAll();
    pinned.erase(it);
    std::free(p);
    return CUDA_SUCCESS;
}

static CUresult fill(const char* what, CUdeviceptr dst, unsigned int value, size_t n, int width, CUstream s) {
    READY;
    if (CUresult rc = copyChecked(what, dst, n * width)) return rc;
    stats.memsets++;
    Stream* st = resolve(s);
    enqueue(st, [=] {
        char* d = reinterpret_cast<char*>(dst);
        if (width == 1) std::memset(d, (int) value, n);
        else for (size_t i = 0; i < n; i++) std::memcpy(d + 4 * i, &value, 4);
        return CUDA_SUCCESS;
    });
    return sticky;
}

CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { return fill("cuMemsetD8", d, v, n, 1, nullptr); }
CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned int v, size_t n) { return fill("cuMemsetD32", d, v, n, 4, nullptr); }
CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) { return fill("cuMemsetD8Async", d, v, n, 1, s); }
CUresult cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, CUstream s) { return fill("cuMemsetD32Async", d, v, n, 4, s); }

// A copy: device ranges checked; a pageable source is read at the call (CUDA stages it before
// returning), a pinned one when the copy runs; a copy into pageable memory, or a blocking copy,
// completes before returning.
static CUresult copy(const char* what, void* dst, const void* src, size_t n, bool dstDevice, bool srcDevice, CUstream s, bool async) {
    READY;
    if (n == 0) return CUDA_SUCCESS;
    if (dstDevice) { if (CUresult rc = copyChecked(what, reinterpret_cast<uintptr_t>(dst), n)) return rc; }
    if (srcDevice) { if (CUresult rc = copyChecked(what, reinterpret_cast<uintptr_t>(src), n)) return rc; }
    if (!dst || !src) return CUDA_ERROR_INVALID_VALUE;
    Stream* st = resolve(async ? s : nullptr);
    if (st->capture && ((!srcDevice && !isPinned(src, n)) || (!dstDevice && !isPinned(dst, n))))
        return breaksCapture(st, "a copy to or from pageable host memory");
    std::shared_ptr<std::vector<char>> staged;
    if (!srcDevice && !(async && isPinned(src, n))) staged = std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + n);
    unsigned long long seq = enqueue(st, [=] {
        std::memcpy(dst, staged ? staged->data() : src, n);
        return CUDA_SUCCESS;
    });
    if (dstDevice && !srcDevice) { stats.uploads++; stats.uploadBytes += n; }
    if (!dstDevice) { stats.downloads++; stats.downloadBytes += n; }
    if (st->capture) return sticky;   // recorded: runs when the graph does
    if (!async || (!dstDevice && !isPinned(dst, n))) {
        stats.hostWaits++;
        stats.copyWaits++;
        drain(st, seq);
        if (queued == 0) stats.idleWaits++;
    }
    return sticky;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void* s, size_t n) { return copy("cuMemcpyHtoD", reinterpret_cast<void*>(d), s, n, true, false, nullptr, false); }
CUresult cuMemcpyDtoH_v2(void* d, CUdeviceptr s, size_t n) { return copy("cuMemcpyDtoH", d, reinterpret_cast<void*>(s), n, false, true, nullptr, false); }
CUresult cuMemcpyDtoD_v2(CUdeviceptr d, CUdeviceptr s, size_t n) { return copy("cuMemcpyDtoD", reinterpret_cast<void*>(d), reinterpret_cast<void*>(s), n, true, true, nullptr, false); }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* s, size_t n, CUstream st) { return copy("cuMemcpyHtoDAsync", reinterpret_cast<void*>(d), s, n, true, false, st, true); }
CUresult cuMemcpyDtoHAsync_v2(void* d, CUdeviceptr s, size_t n, CUstream st) { return copy("cuMemcpyDtoHAsync", d, reinterpret_cast<void*>(s), n, false, true, st, true); }
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream st) { return copy("cuMemcpyDtoDAsync", reinterpret_cast<void*>(d), reinterpret_cast<void*>(s), n, true, true, st, true); }

CUresult cuStreamCreate(CUstream* s, unsigned int flags) {
    READY;
    if (!s || (flags & ~1u)) return CUDA_ERROR_INVALID_VALUE;
    Stream* st = new Stream{(flags & CU_STREAM_NON_BLOCKING) == 0, {}};
    streams.push_back(st);
    *s = reinterpret_cast<CUstream>(st);
    return CUDA_SUCCESS;
}

CUresult cuStreamDestroy_v2(CUstream s) {
    READY;
    Stream* st = reinterpret_cast<Stream*>(s);
    for (size_t i = 0; i < streams.size(); i++) {
        if (streams[i] != st) continue;
        delete st->capture;   // a capture still open is abandoned
        drain(st, ~0ull);  // queued work still completes
        streams.erase(streams.begin() + i);
        delete st;
        return sticky;
    }
    return CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuStreamSynchronize(CUstream s) {
    READY;
    if (resolve(s)->capture) return breaksCapture(resolve(s), "cuStreamSynchronize");
    bool waits = !resolve(s)->queue.empty();
    if (waits) {
        stats.hostWaits++;
        stats.streamWaits++;
    }
    drain(resolve(s), ~0ull);
    if (waits && queued == 0) stats.idleWaits++;
    return sticky;
}

CUresult cuEventCreate(CUevent* e, unsigned int flags) {
    READY;
    if (!e || flags != CU_EVENT_DEFAULT) return CUDA_ERROR_INVALID_VALUE;
    *e = reinterpret_cast<CUevent>(new Event());
    return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent e, CUstream s) {
    READY;
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    Event* ev = reinterpret_cast<Event*>(e);
    if (resolve(s)->capture) return breaksCapture(resolve(s), "cuEventRecord (event nodes are not simulated)");
    ev->recorded = true;
    ev->done = false;
    ev->stream = resolve(s);
    ev->seq = enqueue(ev->stream, [ev] {
        ev->done = true;
        ev->ms = nowMs();
        return CUDA_SUCCESS;
    });
    return CUDA_SUCCESS;
}

CUresult cuEventSynchronize(CUevent e) {
    READY;
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    Event* ev = reinterpret_cast<Event*>(e);
    if (ev->recorded && !ev->done) {
        stats.hostWaits++;
        stats.eventWaits++;
        drain(ev->stream, ev->seq);
        if (queued == 0) stats.idleWaits++;
    }
    return sticky;
}

CUresult cuEventElapsedTime_v2(float* ms, CUevent start, CUevent end) {
    READY;
    if (!ms || !start || !end) return CUDA_ERROR_INVALID_VALUE;
    Event* a = reinterpret_cast<Event*>(start);
    Event* b = reinterpret_cast<Event*>(end);
    if (!a->recorded || !b->recorded) return CUDA_ERROR_INVALID_HANDLE;
    if (!a->done || !b->done) return CUDA_ERROR_NOT_READY;
    *ms = (float) (b->ms - a->ms);
    return CUDA_SUCCESS;
}

CUresult cuEventDestroy_v2(CUevent e) {
    READY;
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    Event* ev = reinterpret_cast<Event*>(e);
    if (ev->recorded && !ev->done) drain(ev->stream, ev->seq);  // the marker must not outlive the event
    delete ev;
    return CUDA_SUCCESS;
}

// A module image is the shared object that the simulator's NVRTC built (an ELF ET_DYN for this
// host); its size is where the section header table ends.
CUresult cuModuleLoadData(CUmodule* m, const void* image) {
    READY;
    if (!m || !image) return CUDA_ERROR_INVALID_VALUE;
    const unsigned char* e = static_cast<const unsigned char*>(image);
    if (std::memcmp(e, "\x7f" "ELF", 4) != 0 || e[4] != 2) return fail(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: not a module of the simulator (a cubin or PTX of a real GPU?)");
    uint16_t type, machine, shentsize, shnum;
    uint64_t shoff;
    std::memcpy(&type, e + 16, 2);
    std::memcpy(&machine, e + 18, 2);
    std::memcpy(&shoff, e + 40, 8);
    std::memcpy(&shentsize, e + 58, 2);
    std::memcpy(&shnum, e + 60, 2);
    if (type != 3 || machine == 190) return fail(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: an ELF image that the simulator did not build (machine %u)", machine);
    size_t size = shoff + (size_t) shentsize * shnum;
    char path[] = "/tmp/panamax-cudasim-XXXXXX.so";
    int fd = mkstemps(path, 3);
    if (fd < 0) return fail(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: cannot write a temporary file");
    bool ok = write(fd, image, size) == (ssize_t) size;
    close(fd);
    void* h = ok ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : nullptr;
    unlink(path);  // the mapping outlives the name, and nothing is left behind at exit
    if (!h) return fail(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: %s", ok ? dlerror() : "short write");
    auto init = reinterpret_cast<void (*)(const pmx_rt*)>(dlsym(h, "__pmx_init"));
    auto shared = static_cast<unsigned char*>(dlsym(h, "__pmx_dynamic_shared"));
    auto headers = static_cast<const char*>(dlsym(h, "__pmx_header_id"));
    if (!init || !shared || !headers || std::strcmp(headers, PMX_HEADER_ID) != 0) {
        std::string built = headers ? headers : "none";
        dlclose(h);
        if (!init || !shared) return fail(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: a module that this build of the simulator did not compile (no __pmx_init or __pmx_dynamic_shared)");
        return fail(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: a module compiled against another build of the simulator's kernel headers (%s, not %s): compile it again",
                    built.c_str(), PMX_HEADER_ID);
    }
    init(&RT);
    *m = reinterpret_cast<CUmodule>(new Module{h, shared, {}});
    return CUDA_SUCCESS;
}

CUresult cuModuleLoadDataEx(CUmodule* m, const void* image, unsigned int, CUjit_option*, void**) { return cuModuleLoadData(m, image); }

CUresult cuModuleUnload(CUmodule m) {
    READY;
    if (!m) return CUDA_ERROR_INVALID_HANDLE;
    drainAll();
    Module* mod = reinterpret_cast<Module*>(m);
    dlclose(mod->handle);
    delete mod;
    return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction* f, CUmodule m, const char* name) {
    READY;
    if (!f || !m || !name) return CUDA_ERROR_INVALID_VALUE;
    Module* mod = reinterpret_cast<Module*>(m);
    std::unique_ptr<Function>& slot = mod->functions[name];
    if (!slot) {
        auto k = static_cast<const pmx_kernel*>(dlsym(mod->handle, ("__pmx_kernel_" + std::string(name)).c_str()));
        if (!k) {
            mod->functions.erase(name);
            return CUDA_ERROR_NOT_FOUND;
        }
        slot.reset(new Function{k, name, mod->dynamicShared});
    }
    *f = reinterpret_cast<CUfunction>(slot.get());
    return CUDA_SUCCESS;
}

CUresult cuFuncSetAttribute(CUfunction f, CUfunction_attribute a, int v) {
    READY;
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (a != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) return fail(CUDA_ERROR_INVALID_VALUE, "cuFuncSetAttribute: attribute %d is not simulated", (int) a);
    if (v < 0 || v > PMX_MAX_DYNAMIC_SHARED) return CUDA_ERROR_INVALID_VALUE;
    reinterpret_cast<Function*>(f)->maxDynamicShared = v;
    return CUDA_SUCCESS;
}

// cuLaunchKernel and cuLaunchKernelEx: the checks a GPU makes, then the work queued on the stream.
static CUresult queueLaunch(const char* api, CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by,
                             unsigned int bz, unsigned int sharedBytes, CUstream s, void** params, void** extra, bool programmatic) {
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    Function* fn = reinterpret_cast<Function*>(f);
    unsigned long long threads = (unsigned long long) bx * by * bz;
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0)
        return fail(CUDA_ERROR_INVALID_VALUE, "%s(%s): empty grid (%u,%u,%u) or block (%u,%u,%u)", api, fn->name.c_str(), gx, gy, gz, bx, by, bz);
    if (gy > 65535 || gz > 65535 || gx > 0x7fffffffu || threads > 1024 || bz > 64)
        return fail(CUDA_ERROR_INVALID_VALUE, "%s(%s): grid (%u,%u,%u), block (%u,%u,%u) exceed the device's limits", api, fn->name.c_str(), gx, gy, gz, bx, by, bz);
    if (fn->kernel->maxThreads > 0 && threads > (unsigned long long) fn->kernel->maxThreads)
        return fail(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "%s(%s): %llu threads, __launch_bounds__ %d", api, fn->name.c_str(), threads, fn->kernel->maxThreads);
    if ((int) sharedBytes > fn->maxDynamicShared) return fail(CUDA_ERROR_INVALID_VALUE, "%s(%s): %u bytes of dynamic shared memory", api, fn->name.c_str(), sharedBytes);
    if (extra != nullptr) return fail(CUDA_ERROR_NOT_SUPPORTED, "%s: 'extra' is not simulated", api);
    if (!params) return CUDA_ERROR_INVALID_VALUE;
    // the parameters are copied at the launch, as CUDA does
    std::shared_ptr<char[]> args(new (std::align_val_t(64)) char[fn->kernel->argBytes + 1], [](char* p) { operator delete[](p, std::align_val_t(64)); });
    fn->kernel->pack(params, args.get());
    pmx_dim3 grid{gx, gy, gz}, block{bx, by, bz};
    stats.launches++;
    if (programmatic) stats.programmaticLaunches++;
    enqueue(resolve(s), [fn, args, grid, block, sharedBytes, programmatic] { return runKernel(fn, args.get(), grid, block, sharedBytes, programmatic); });
    return sticky;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz,
                        unsigned int sharedBytes, CUstream s, void** params, void** extra) {
    READY;
    return queueLaunch("cuLaunchKernel", f, gx, gy, gz, bx, by, bz, sharedBytes, s, params, extra, false);
}

// The one attribute simulated is programmatic stream serialization (the device is compute
// capability 9.0); any other attribute id is refused, as a configuration read at the wrong offsets
// would show one.
CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
    READY;
    if (!config) return CUDA_ERROR_INVALID_VALUE;
    if (config->numAttrs > 0 && !config->attrs) return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernelEx: %u attributes at NULL", config->numAttrs);
    if (config->numAttrs > 16) return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernelEx: %u attributes", config->numAttrs);
    bool programmatic = false;
    for (unsigned int i = 0; i < config->numAttrs; i++) {
        const CUlaunchAttribute& a = config->attrs[i];
        if (a.id != CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION)
            return fail(CUDA_ERROR_NOT_SUPPORTED, "cuLaunchKernelEx: launch attribute %d is not simulated", (int) a.id);
        int v = a.value.programmaticStreamSerializationAllowed;
        if (v != 0 && v != 1) return fail(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernelEx: programmaticStreamSerializationAllowed = %d", v);
        programmatic = v != 0;
    }
    return queueLaunch("cuLaunchKernelEx", f, config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX, config->blockDimY, config->blockDimZ,
                        config->sharedMemBytes, config->hStream, params, extra, programmatic);
}


// ---------------------------------------------------------------------------------------------
// Stream capture and graphs: while a stream captures, its work is recorded, not run; a graph
// launch queues the recorded work on a stream, in order.
CUresult cuStreamBeginCapture_v2(CUstream s, CUstreamCaptureMode mode) {
    READY;
    if (!s) return fail(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuStreamBeginCapture: the legacy stream cannot be captured");
    if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL && mode != CU_STREAM_CAPTURE_MODE_RELAXED) return CUDA_ERROR_INVALID_VALUE;
    Stream* st = resolve(s);
    if (st->capture) return fail(CUDA_ERROR_ILLEGAL_STATE, "cuStreamBeginCapture: the stream is already capturing");
    st->capture = new Graph();
    st->invalidated = false;
    return CUDA_SUCCESS;
}

CUresult cuStreamEndCapture(CUstream s, CUgraph* g) {
    READY;
    if (!g) return CUDA_ERROR_INVALID_VALUE;
    Stream* st = resolve(s);
    if (!st->capture) return fail(CUDA_ERROR_ILLEGAL_STATE, "cuStreamEndCapture: the stream is not capturing");
    std::unique_ptr<Graph> graph(st->capture);
    st->capture = nullptr;
    *g = nullptr;
    if (st->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    *g = reinterpret_cast<CUgraph>(graph.release());
    return CUDA_SUCCESS;
}

CUresult cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus* status) {
    READY;
    if (!status) return CUDA_ERROR_INVALID_VALUE;
    Stream* st = resolve(s);
    *status = !st->capture ? CU_STREAM_CAPTURE_STATUS_NONE : st->invalidated ? CU_STREAM_CAPTURE_STATUS_INVALIDATED : CU_STREAM_CAPTURE_STATUS_ACTIVE;
    return CUDA_SUCCESS;
}

CUresult cuGraphGetNodes(CUgraph g, CUgraphNode* nodes, size_t* n) {
    READY;
    if (!g || !n) return CUDA_ERROR_INVALID_VALUE;
    Graph* graph = reinterpret_cast<Graph*>(g);
    if (!nodes) {
        *n = graph->ops.size();
        return CUDA_SUCCESS;
    }
    size_t k = std::min(*n, graph->ops.size());
    for (size_t i = 0; i < k; i++) nodes[i] = reinterpret_cast<CUgraphNode>(&graph->ops[i]);
    *n = k;
    return CUDA_SUCCESS;
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec* e, CUgraph g, unsigned long long flags) {
    READY;
    if (!e || !g) return CUDA_ERROR_INVALID_VALUE;
    if (flags != 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphInstantiateWithFlags: flags 0x%llx are not simulated", flags);
    *e = reinterpret_cast<CUgraphExec>(new Graph(*reinterpret_cast<Graph*>(g)));   // a copy: the graph may be destroyed
    return CUDA_SUCCESS;
}

CUresult cuGraphLaunch(CUgraphExec e, CUstream s) {
    READY;
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    Stream* st = resolve(s);
    if (st->capture) return breaksCapture(st, "cuGraphLaunch (child graphs are not simulated)");
    stats.graphLaunches++;
    for (const auto& op : reinterpret_cast<Graph*>(e)->ops) enqueue(st, op);
    return sticky;
}

CUresult cuGraphExecDestroy(CUgraphExec e) {
    READY;
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    drainAll();   // launched work holds copies of the ops, but CUDA also lets it finish
    delete reinterpret_cast<Graph*>(e);
    return CUDA_SUCCESS;
}

CUresult cuGraphDestroy(CUgraph g) {
    READY;
    if (!g) return CUDA_ERROR_INVALID_HANDLE;
    delete reinterpret_cast<Graph*>(g);
    return CUDA_SUCCESS;
}

}  // extern "C"
