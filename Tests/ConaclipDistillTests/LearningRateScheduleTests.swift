import Foundation
import Testing
@testable import ConaclipDistill

@Suite("Learning-rate schedule")
struct LearningRateScheduleTests {
    @Test("values at key steps")
    func keySteps() throws {
        let s = try LearningRateSchedule(lr: 1e-3, warmupSteps: 100, totalSteps: 1100, minLR: 1e-5)
        #expect(s.learningRate(atStep: 0) == 0)
        #expect(s.learningRate(atStep: -5) == 0)
        #expect(abs(s.learningRate(atStep: 1) - 1e-5) < 1e-18)
        #expect(abs(s.learningRate(atStep: 50) - 5e-4) < 1e-18)
        #expect(s.learningRate(atStep: 100) == 1e-3)  // peak at the end of warmup
        // Half-way through the cosine: the mean of lr and min_lr.
        #expect(abs(s.learningRate(atStep: 600) - (1e-3 + 1e-5) / 2) < 1e-15)
        // A quarter of the way: min + (lr - min) * (1 + cos(pi/4)) / 2.
        let quarter = 1e-5 + (1e-3 - 1e-5) * (1 + cos(Double.pi / 4)) / 2
        #expect(abs(s.learningRate(atStep: 350) - quarter) < 1e-15)
        #expect(s.learningRate(atStep: 1100) == 1e-5)
        #expect(s.learningRate(atStep: 5000) == 1e-5)
        let last = 1e-5 + (1e-3 - 1e-5) * (1 + cos(Double.pi * 999 / 1000)) / 2
        #expect(abs(s.learningRate(atStep: 1099) - last) < 1e-18 && last > 1e-5)
    }

    @Test("rises during warmup, falls after it")
    func monotone() throws {
        let s = try LearningRateSchedule(lr: 0.5, warmupSteps: 10, totalSteps: 60, minLR: 0.1)
        let values = (0...70).map { s.learningRate(atStep: $0) }
        #expect((0..<10).allSatisfy { values[$0] < values[$0 + 1] })
        #expect((10..<60).allSatisfy { values[$0] > values[$0 + 1] })
        #expect(values.allSatisfy { $0 >= 0 && $0 <= 0.5 })
    }

    @Test("no warmup starts at the peak")
    func noWarmup() throws {
        let s = try LearningRateSchedule(lr: 2e-4, warmupSteps: 0, totalSteps: 10)
        #expect(s.learningRate(atStep: 0) == 2e-4)
        #expect(s.learningRate(atStep: 10) == 0)
    }

    @Test("decodes config names and refuses bad values")
    func decodingAndErrors() throws {
        let json = #"{"lr": 0.001, "warmup_steps": 5, "total_steps": 50, "min_lr": 0.0001}"#
        let s = try JSONDecoder().decode(LearningRateSchedule.self, from: Data(json.utf8))
        #expect(s == (try LearningRateSchedule(lr: 0.001, warmupSteps: 5, totalSteps: 50, minLR: 0.0001)))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(LearningRateSchedule.self, from: Data(#"{"lr": 0.001, "warmup_steps": 60, "total_steps": 50}"#.utf8))
        }
        #expect(throws: LearningRateScheduleError.minimumAboveMaximum(lr: 1, minLR: 2)) {
            try LearningRateSchedule(lr: 1, warmupSteps: 0, totalSteps: 5, minLR: 2)
        }
        #expect(throws: LearningRateScheduleError.invalidLearningRate(name: "lr", value: -1)) {
            try LearningRateSchedule(lr: -1, warmupSteps: 0, totalSteps: 5)
        }
        #expect(throws: LearningRateScheduleError.invalidSteps(warmupSteps: 0, totalSteps: 0)) {
            try LearningRateSchedule(lr: 1, warmupSteps: 0, totalSteps: 0)
        }
    }
}
