from mastune.llm.engine_info import compiled_features, describe

WHEEL = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | OPENMP = 1 | "
NATIVE = WHEEL.replace("AVX2 = 1 |", "AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 |")
AVX512_HOST = "processor : 0\nflags : fpu sse avx2 avx512f avx512_vnni\n"


def test_wheel_build_on_an_avx512_host_says_so():
    line = describe(WHEEL, AVX512_HOST)
    assert "portable build" in line and "AVX2" in line and "AVX-512, which this build does not use" in line
    assert "AVX512" not in compiled_features(WHEEL)


def test_native_build_is_named_with_its_features():
    line = describe(NATIVE, AVX512_HOST)
    assert "native build" in line and "AVX512_VNNI" in line and "does not use" not in line


def test_no_hint_on_a_host_without_avx512():
    assert "does not use" not in describe(WHEEL, "flags : fpu sse avx2\n")
