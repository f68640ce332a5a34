import Testing
@testable import ConaclipNative

@Suite struct BLASCoreSelectionTests {
    @Test func avx512ChoosesSkylakeX() {
        let f = CPUFeatures(flags: ["avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"])
        #expect(BLASCoreSelection.recommendedCore(for: f) == "SkylakeX")
    }

    @Test func partialAVX512FallsBackToHaswell() {
        // Xeon Phi style: avx512f without bw/vl must not get SkylakeX kernels.
        let f = CPUFeatures(flags: ["avx", "avx2", "fma", "avx512f", "avx512cd"])
        #expect(BLASCoreSelection.recommendedCore(for: f) == "Haswell")
    }

    @Test func olderCPUs() {
        #expect(BLASCoreSelection.recommendedCore(for: CPUFeatures(flags: ["avx", "sse4_2"])) == "Sandybridge")
        #expect(BLASCoreSelection.recommendedCore(for: CPUFeatures(flags: ["sse4_2"])) == "Nehalem")
        #expect(BLASCoreSelection.recommendedCore(for: CPUFeatures(flags: [])) == "Prescott")
    }

    @Test func parsesCPUInfo() {
        let text = "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 FMA\n\nprocessor\t: 1\nflags\t\t: other\n"
        let f = CPUFeatures(cpuinfo: text)
        #expect(f.flags == ["fpu", "avx2", "fma"])
        #expect(f.modelName == "Test CPU")
    }

    @Test func userChoiceIsRespected() {
        let f = CPUFeatures(flags: ["avx2", "fma"])
        #expect(BLASCoreSelection.environmentChanges(environment: ["OPENBLAS_CORETYPE": "Zen"], features: f) == nil)
        #expect(BLASCoreSelection.environmentChanges(environment: ["CONACLIP_BLAS_REEXEC": "1"], features: f) == nil)
        let changes = BLASCoreSelection.environmentChanges(environment: [:], features: f)
        #expect(changes?["OPENBLAS_CORETYPE"] == "Haswell")
        #expect(changes?["OPENBLAS_NUM_THREADS"] == "1")
        let threaded = BLASCoreSelection.environmentChanges(environment: ["CONACLIP_BLAS_THREADS": "4"], features: f)
        #expect(threaded?["OPENBLAS_NUM_THREADS"] == "4")
    }

    @Test func gemmMatchesNaiveProduct() {
        // 3x2 · (2x4) with B given transposed as 4x2.
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        let bT: [Float] = [1, 0, 0, 1, 1, 1, 2, -1]
        var c = [Float](repeating: 7, count: 12)
        BLAS.gemm(transA: false, transB: true, m: 3, n: 4, k: 2, a: a, lda: 2, b: bT, ldb: 2, beta: 0, c: &c, ldc: 4)
        #expect(c == [1, 2, 3, 0, 3, 4, 7, 2, 5, 6, 11, 4])
    }
}
