import Logging
import Testing
@testable import ConaclipCluster

/// Fault specs: parsing, refusal of bad specs, and which process fires what, how often.
@Suite struct FaultPlanTests {
    @Test func parsesEveryKind() throws {
        let exit = try Fault(parsing: "worker-exit@step=3,worker=1")
        #expect(exit.kind == .workerExit && exit.step == 3 && exit.worker == 1)
        let stall = try Fault(parsing: "worker-stall@step=2,seconds=1.5,phase=embeddings")
        #expect(stall.seconds == 1.5 && stall.phase == .embeddings)
        let delay = try Fault(parsing: "delay@type=gradient,ms=250,count=0")
        #expect(delay.messageType == .gradient && delay.milliseconds == 250 && delay.count == 0)
        #expect(try Fault(parsing: "corrupt@type=result-ack,side=coordinator").side == .coordinator)
        #expect(try Fault(parsing: "coordinator-crash@step=4").kind == .coordinatorCrash)
        #expect(try Fault(parsing: "nan-gradient").kind == .nanGradient)
    }

    @Test func refusesBadSpecsSayingWhy() {
        let cases: [(String, String)] = [
            ("explode@step=1", "unknown fault kind"), ("worker-exit", "needs step=N"), ("drop@step=1", "needs type="),
            ("delay@type=gradient", "needs ms="), ("drop@type=nonsense", "unknown message type"),
            ("worker-exit@step=0", "integer >= 1"), ("worker-exit@step=2,ms=4", "takes"), ("worker-exit@step", "not key=value"),
        ]
        for (spec, reason) in cases {
            do {
                _ = try Fault(parsing: spec)
                Issue.record("\(spec) was accepted")
            } catch {
                #expect(error.description.contains(reason), "\(spec): \(error)")
            }
        }
        let located = #expect(throws: FaultSpecError.self) {
            try FaultPlan.parse(config: [.init(spec: "bogus", location: "c.yaml:9")], environment: [:])
        }
        #expect(located?.description.hasPrefix("c.yaml:9: ") == true)
        #expect(throws: FaultSpecError.self) { try FaultPlan.parse(config: [], environment: ["CONACLIP_FAULTS": "drop@type=gradient;oops"]) }
    }

    @Test func firesForTheRightStepWorkerAndSideAsOftenAsAsked() throws {
        let plan = try FaultPlan.parse(config: [.init(spec: "worker-exit@step=3,worker=2", location: "x")],
                                       environment: ["CONACLIP_FAULTS": "drop@type=gradient,count=2; nan-gradient@step=5"])
        #expect(plan.faults.count == 3)
        #expect(plan.workerFault(step: 3, worker: 1, phase: .gradient) == nil)
        #expect(plan.workerFault(step: 2, worker: 2, phase: .gradient) == nil)
        #expect(plan.workerFault(step: 3, worker: 2, phase: .embeddings) == nil)  // default phase: gradient
        #expect(plan.workerFault(step: 3, worker: 2, phase: .gradient) == .exit)
        #expect(plan.workerFault(step: 3, worker: 2, phase: .gradient) == nil)    // count 1
        // Gradients are sent by workers: the coordinator side never drops them.
        #expect(plan.outgoing(.gradient, step: 1, worker: 1, side: .coordinator) == nil)
        #expect(plan.outgoing(.gradient, step: 1, worker: 1, side: .worker) == .drop)
        #expect(plan.outgoing(.gradient, step: 9, worker: 4, side: .worker) == .drop)
        #expect(plan.outgoing(.gradient, step: 10, worker: 4, side: .worker) == nil)
        #expect(!plan.poisonGradient(step: 4, worker: 1))
        #expect(plan.poisonGradient(step: 5, worker: 7))
    }

    @Test func corruptionBreaksTheChecksum() throws {
        let message = try WireCodec.encode(.goodbye(Goodbye(reason: "bye")), envelope: WireEnvelope(runID: 5))
        let frames = receivedFrames(FaultInjection.corrupted(message))
        #expect(throws: ProtocolError.self) { try WireDecoder(runID: 5).decode(frames) }
        #expect(throws: Never.self) { try WireDecoder(runID: 5).decode(receivedFrames(message)) }
    }

    @Test func applyDropsDelaysOrCorruptsAndLogsWhatItDid() throws {
        let message = try WireCodec.encode(.goodbye(Goodbye(reason: "bye")), envelope: WireEnvelope(runID: 5))
        let bytes = receivedFrames(message).map(\.bytes)
        let logs = CapturedLogs()
        let logger = logs.logger()

        let untouched = try #require(FaultInjection.apply(nil, to: message, describing: "goodbye", logger: logger))
        #expect(receivedFrames(untouched).map(\.bytes) == bytes)
        #expect(logs.entries.isEmpty)

        #expect(FaultInjection.apply(.drop, to: message, describing: "goodbye to worker-1", logger: logger) == nil)

        let clock = ContinuousClock()
        let start = clock.now
        let delayed = try #require(FaultInjection.apply(.delay(milliseconds: 20), to: message, describing: "goodbye",
                                                        logger: logger))
        #expect(clock.now - start >= .milliseconds(20))
        #expect(receivedFrames(delayed).map(\.bytes) == bytes)

        let corrupted = try #require(FaultInjection.apply(.corrupt, to: message, describing: "goodbye", logger: logger))
        #expect(throws: ProtocolError.self) { try WireDecoder(runID: 5).decode(receivedFrames(corrupted)) }

        #expect(logs.entries.map(\.message) == [
            "fault injection: dropped goodbye to worker-1",
            "fault injection: delaying goodbye by 20 ms",
            "fault injection: corrupting goodbye",
        ])
        #expect(logs.entries.allSatisfy { $0.level == .warning })
    }
}
