// libnvrtc.so.13 of the Panamax CUDA simulator (test-only; see README.md beside this file). It
// "compiles" CUDA C++ by handing it to the host C++ compiler (PANAMAX_CUDASIM_CXX, default g++)
// with cudasim_device.h (found beside this library) in front, and appends a descriptor for each
// extern "C" __global__ function. The "cubin" is the resulting shared object, which the
// simulator's cuModuleLoadData loads. Options are checked as NVRTC would: an unknown one fails.
#include <dlfcn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

typedef enum {
    NVRTC_SUCCESS = 0,
    NVRTC_ERROR_OUT_OF_MEMORY = 1,
    NVRTC_ERROR_PROGRAM_CREATION_FAILURE = 2,
    NVRTC_ERROR_INVALID_INPUT = 3,
    NVRTC_ERROR_INVALID_PROGRAM = 4,
    NVRTC_ERROR_INVALID_OPTION = 5,
    NVRTC_ERROR_COMPILATION = 6,
    NVRTC_ERROR_INTERNAL_ERROR = 11
} nvrtcResult;

struct Program {
    std::string source, name, log, image, ptx;
    bool compiled = false, realArch = false;
};
typedef Program* nvrtcProgram;

namespace {

std::string here() {
    Dl_info info;
    if (!dladdr(reinterpret_cast<void*>(&here), &info) || !info.dli_fname) return ".";
    std::string p = info.dli_fname;
    size_t slash = p.rfind('/');
    return slash == std::string::npos ? "." : p.substr(0, slash);
}

bool readFile(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream s;
    s << in.rdbuf();
    out = s.str();
    return true;
}

}  // namespace

extern "C" {

const char* nvrtcGetErrorString(nvrtcResult r) {
    switch (r) {
        case NVRTC_SUCCESS: return "NVRTC_SUCCESS";
        case NVRTC_ERROR_OUT_OF_MEMORY: return "NVRTC_ERROR_OUT_OF_MEMORY";
        case NVRTC_ERROR_PROGRAM_CREATION_FAILURE: return "NVRTC_ERROR_PROGRAM_CREATION_FAILURE";
        case NVRTC_ERROR_INVALID_INPUT: return "NVRTC_ERROR_INVALID_INPUT";
        case NVRTC_ERROR_INVALID_PROGRAM: return "NVRTC_ERROR_INVALID_PROGRAM";
        case NVRTC_ERROR_INVALID_OPTION: return "NVRTC_ERROR_INVALID_OPTION";
        case NVRTC_ERROR_COMPILATION: return "NVRTC_ERROR_COMPILATION";
        case NVRTC_ERROR_INTERNAL_ERROR: return "NVRTC_ERROR_INTERNAL_ERROR";
        default: return "NVRTC_ERROR unknown";
    }
}

nvrtcResult nvrtcVersion(int* major, int* minor) {
    if (!major || !minor) return NVRTC_ERROR_INVALID_INPUT;
    *major = 13;
    *minor = 0;
    return NVRTC_SUCCESS;
}

nvrtcResult nvrtcCreateProgram(nvrtcProgram* prog, const char* src, const char* name, int numHeaders, const char* const*, const char* const*) {
    if (!prog || !src) return NVRTC_ERROR_INVALID_INPUT;
    if (numHeaders != 0) return NVRTC_ERROR_INVALID_INPUT;  // Panamax inlines its header; the simulator takes none
    Program* p = new Program();
    p->source = src;
    p->name = name ? name : "default_program";
    *prog = p;
    return NVRTC_SUCCESS;
}

nvrtcResult nvrtcDestroyProgram(nvrtcProgram* prog) {
    if (!prog || !*prog) return NVRTC_ERROR_INVALID_PROGRAM;
    delete *prog;
    *prog = nullptr;
    return NVRTC_SUCCESS;
}

nvrtcResult nvrtcCompileProgram(nvrtcProgram p, int numOptions, const char* const* options) {
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (numOptions < 0 || (numOptions > 0 && !options)) return NVRTC_ERROR_INVALID_INPUT;
    p->log.clear();
    std::regex arch("(--gpu-architecture=|-arch=)(sm|compute)_[0-9]+a?");
    for (int i = 0; i < numOptions; i++) {
        std::string o = options[i] ? options[i] : "";
        std::smatch m;
        if (std::regex_match(o, m, arch)) { p->realArch = m[2] == "sm"; continue; }
        if (o == "--std=c++17" || o == "-std=c++17" || o == "-default-device" || o == "--device-as-default-execution-space") continue;
        p->log = "nvrtc: error: unrecognized option " + o + " (the Panamax CUDA simulator knows only the options Panamax passes)\n";
        return NVRTC_ERROR_INVALID_OPTION;
    }
    // every extern "C" __global__ function gets a descriptor the simulated driver launches, with its
    // __launch_bounds__' first argument (the most threads a block; the minimum of blocks an SM, if
    // given, only steers registers)
    std::regex kernel(R"(extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\s*\(([^),]*)(?:,[^)]*)?\)\s*)?([A-Za-z_]\w*)\s*\()");
    std::ostringstream reg, entries;
    for (auto it = std::sregex_iterator(p->source.begin(), p->source.end(), kernel); it != std::sregex_iterator(); ++it) {
        std::string bounds = (*it)[1].matched ? "(" + (*it)[1].str() + ")" : "0";
        reg << "PMX_KERNEL(" << (*it)[2].str() << ", " << bounds << ")\n";
        entries << ".visible .entry " << (*it)[2].str() << "()\n";
    }
    std::string dir = here();
    char tmpl[] = "/tmp/panamax-nvrtc-XXXXXX";
    if (!mkdtemp(tmpl)) return NVRTC_ERROR_INTERNAL_ERROR;
    std::string work = tmpl, src = work + "/kernel.cpp", so = work + "/kernel.so", log = work + "/log.txt";
    {
        std::ofstream out(src);
        out << "#define PMX_HEADER_ID \"" PMX_HEADER_ID "\"\n#include \"" << dir << "/cudasim_device.h\"\n#line 1 \"" << p->name << "\"\n" << p->source << "\n"
            << reg.str();
    }
    const char* cxx = std::getenv("PANAMAX_CUDASIM_CXX");
    std::string cmd = std::string(cxx ? cxx : "g++") + " -std=c++17 -O2 -ffp-contract=off -fno-strict-aliasing -fPIC -shared -w -fno-exceptions -I'" + dir + "' -o '" + so + "' '" + src + "' > '" + log + "' 2>&1";
    int rc = std::system(cmd.c_str());
    readFile(log, p->log);
    bool ok = rc == 0 && readFile(so, p->image);
    std::remove(src.c_str());
    std::remove(so.c_str());
    std::remove(log.c_str());
    rmdir(work.c_str());
    if (!ok) {
        p->log = "the Panamax CUDA simulator compiled " + p->name + " as host C++ (" + cmd + "):\n" + p->log;
        return NVRTC_ERROR_COMPILATION;
    }
    p->compiled = true;
    p->ptx = "// Panamax CUDA simulator: the module is host code; this \"PTX\" only names its kernels\n" + entries.str();
    return NVRTC_SUCCESS;
}

nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram p, size_t* n) {
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!n) return NVRTC_ERROR_INVALID_INPUT;
    *n = p->log.size() + 1;
    return NVRTC_SUCCESS;
}

nvrtcResult nvrtcGetProgramLog(nvrtcProgram p, char* out) {
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!out) return NVRTC_ERROR_INVALID_INPUT;
    std::memcpy(out, p->log.c_str(), p->log.size() + 1);
    return NVRTC_SUCCESS;
}

nvrtcResult nvrtcGetPTXSize(nvrtcProgram p, size_t* n) {
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!n) return NVRTC_ERROR_INVALID_INPUT;
    if (!p->compiled) return NVRTC_ERROR_INVALID_PROGRAM;
    *n = p->ptx.size() + 1;
    return NVRTC_SUCCESS;
}

nvrtcResult nvrtcGetPTX(nvrtcProgram p, char* out) {
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!out) return NVRTC_ERROR_INVALID_INPUT;
    if (!p->compiled) return NVRTC_ERROR_INVALID_PROGRAM;
    std::memcpy(out, p->ptx.c_str(), p->ptx.size() + 1);
    return NVRTC_SUCCESS;
}

nvrtcResult nvrtcGetCUBINSize(nvrtcProgram p, size_t* n) {
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!n) return NVRTC_ERROR_INVALID_INPUT;
    if (!p->compiled) return NVRTC_ERROR_INVALID_PROGRAM;
    *n = p->realArch ? p->image.size() : 0;
    return NVRTC_SUCCESS;
}

nvrtcResult nvrtcGetCUBIN(nvrtcProgram p, char* out) {
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (!out) return NVRTC_ERROR_INVALID_INPUT;
    if (!p->compiled || !p->realArch) return NVRTC_ERROR_INVALID_PROGRAM;
    std::memcpy(out, p->image.data(), p->image.size());
    return NVRTC_SUCCESS;
}

}  // extern "C"
