// Generates fp8_fixture.json: CUDA's own FP8 conversions (cuda_fp8.h, host code; no GPU needed),
// the outside truth for dev.panamax.runtime.Fp8.
// Run: nvcc -std=c++17 -o /tmp/make_fp8_fixture make_fp8_fixture.cu && /tmp/make_fp8_fixture > fp8_fixture.json
// (nvcc 13.0 was used). Nothing in Panamax depends on CUDA to build or run; this only makes the fixture.
//
// The file holds, as raw bits (so that NaN, -0 and subnormals survive JSON):
//   e4m3_decode / e5m2_decode: the binary32 bits of each of the 256 FP8 codes, through binary16
//     (__nv_cvt_fp8_to_halfraw, exact) and __half2float (exact);
//   inputs: binary32 bits: every code's value, the midpoints between neighbouring values and one
//     binary32 ulp either side of them, the edges (448, 464, 480, 57344, 61440, 65536, the
//     smallest subnormals and their halves), zeros, infinities, NaNs, float subnormals, and
//     pseudo-random values over exponents -30..20;
//   e4m3_encode / e5m2_encode: __nv_cvt_float_to_fp8(x, __NV_NOSAT, ...) of each input.
#include <cuda_fp8.h>
#include <cuda_fp16.h>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

static uint32_t bitsOf(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
static float fromBits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

static float decode(int code, __nv_fp8_interpretation_t kind) {
    __half_raw h = __nv_cvt_fp8_to_halfraw((__nv_fp8_storage_t) code, kind);
    __half hh(h);
    return __half2float(hh);
}

int main() {
    std::vector<uint32_t> in;
    for (__nv_fp8_interpretation_t kind : {__NV_E4M3, __NV_E5M2}) {
        std::vector<float> pos;
        for (int c = 0; c < 128; c++) {
            float v = decode(c, kind);
            if (std::isfinite(v)) pos.push_back(v);
        }
        for (size_t i = 0; i < pos.size(); i++) {
            for (float s : {1.f, -1.f}) {
                in.push_back(bitsOf(s * pos[i]));
                if (i + 1 < pos.size()) {
                    float mid = (pos[i] + pos[i + 1]) / 2;   // exact: neighbours differ in few bits
                    in.push_back(bitsOf(s * mid));
                    in.push_back(bitsOf(s * std::nextafter(mid, 0.f)));
                    in.push_back(bitsOf(s * std::nextafter(mid, INFINITY)));
                }
            }
        }
    }
    for (float v : {448.f, 449.f, 463.99f, 464.f, 464.01f, 479.99f, 480.f, 500.f, 1e6f, 57344.f, 61439.f, 61440.f, 61441.f, 65535.f, 65536.f, 1e30f,
                    0x1p-9f, 0x1p-10f, 0x1.0001p-10f, 0x1p-11f, 0x1p-16f, 0x1p-17f, 0x1.0001p-17f, 0x1p-18f, 0x1p-126f, 0x1p-149f, 0.f, INFINITY, NAN}) {
        in.push_back(bitsOf(v));
        in.push_back(bitsOf(-v));
    }
    in.push_back(0x7fc00001u);   // NaNs with payloads
    in.push_back(0xff800001u);
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 4000; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t) (state >> 32);
        int e = 127 - 30 + (int) ((r >> 23) % 51);   // exponents -30..20
        in.push_back((r & 0x807fffffu) | ((uint32_t) e << 23));
    }
    std::printf("{\n");
    for (__nv_fp8_interpretation_t kind : {__NV_E4M3, __NV_E5M2}) {
        std::printf("  \"%s_decode\": [", kind == __NV_E4M3 ? "e4m3" : "e5m2");
        for (int c = 0; c < 256; c++) std::printf("%s%u", c ? "," : "", bitsOf(decode(c, kind)));
        std::printf("],\n");
    }
    std::printf("  \"inputs\": [");
    for (size_t i = 0; i < in.size(); i++) std::printf("%s%u", i ? "," : "", in[i]);
    std::printf("],\n");
    for (__nv_fp8_interpretation_t kind : {__NV_E4M3, __NV_E5M2}) {
        std::printf("  \"%s_encode\": [", kind == __NV_E4M3 ? "e4m3" : "e5m2");
        for (size_t i = 0; i < in.size(); i++) std::printf("%s%u", i ? "," : "", (unsigned) __nv_cvt_float_to_fp8(fromBits(in[i]), __NV_NOSAT, kind));
        std::printf("]%s\n", kind == __NV_E4M3 ? "," : "");
    }
    std::printf("}\n");
}
