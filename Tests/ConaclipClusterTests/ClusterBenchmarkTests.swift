import Testing
@testable import ConaclipCluster

/// How `conaclip bench cluster --repeats` combines its rounds.
@Suite struct ClusterBenchmarkTests {
    func measurement(pairs: Double, speedup: Double, comm: Double) -> ClusterBenchmark.Measurement {
        ClusterBenchmark.Measurement(workers: 2, teacherCache: true, pairsPerSecond: pairs, medianStepSeconds: 128 / pairs,
                                     computeSeconds: 0.5, communicationSeconds: comm, waitingSeconds: 0, communicationFraction: comm,
                                     bytesPerStep: 4e7, speedup: speedup)
    }

    @Test func roundsCombineIntoMediansAndASpeedupRange() {
        let combined = ClusterBenchmark.combine([
            measurement(pairs: 150, speedup: 1.6, comm: 0.09),
            measurement(pairs: 170, speedup: 2.1, comm: 0.08),
            measurement(pairs: 130, speedup: 1.7, comm: 0.10),
        ])
        #expect(combined.pairsPerSecond == 150 && combined.speedup == 1.7 && combined.communicationFraction == 0.09)
        #expect(combined.speedupRange == [1.6, 2.1] && combined.rounds == 3)
        let even = ClusterBenchmark.combine([measurement(pairs: 100, speedup: 1.5, comm: 0.1), measurement(pairs: 200, speedup: 2, comm: 0.2)])
        #expect(even.pairsPerSecond == 150 && even.speedup == 1.75 && even.rounds == 2)
    }

    @Test func oneRoundIsReportedAsMeasured() {
        let single = ClusterBenchmark.combine([measurement(pairs: 90, speedup: 1, comm: 0.04)])
        #expect(single.pairsPerSecond == 90 && single.rounds == 1 && single.speedupRange == [1, 1])
    }
}
