import Testing
@testable import ConaclipCluster

/// `conaclip launch --from-env`'s reading of torchrun, Slurm and Kubernetes environments.
@Suite struct LaunchEnvironmentTests {
    @Test func torchrunRankZeroCoordinatesOnTheNextPortAndOtherRanksConnect() throws {
        let base = ["RANK": "0", "WORLD_SIZE": "3", "MASTER_ADDR": "10.0.0.5", "MASTER_PORT": "29500"]
        let zero = try LaunchEnvironment.plan(environment: base)
        #expect(zero.role == .coordinator(bind: "tcp://*:29501"))
        #expect(zero.launcher == "torchrun" && zero.worldSize == 3)
        var two = base
        two["RANK"] = "2"
        let worker = try LaunchEnvironment.plan(environment: two, hostName: "gpu7")
        #expect(worker.role == .worker(connect: "tcp://10.0.0.5:29501"))
        #expect(worker.rank == 2 && worker.workerName == "rank2@gpu7")
        // An explicit port wins over MASTER_PORT; an IPv6 address is bracketed.
        two["CONACLIP_PORT"] = "6000"
        two["MASTER_ADDR"] = "fd00::7"
        #expect(try LaunchEnvironment.plan(environment: two).role == .worker(connect: "tcp://[fd00::7]:6000"))
    }

    @Test func slurmCoordinatesOnTheFirstHostOfTheNodeList() throws {
        let environment = ["SLURM_PROCID": "1", "SLURM_NTASKS": "3", "SLURM_JOB_NODELIST": "node[01-03],gpu5"]
        let plan = try LaunchEnvironment.plan(environment: environment)
        #expect(plan.role == .worker(connect: "tcp://node01:\(LaunchEnvironment.defaultPort)"))
        #expect(plan.launcher == "slurm")
        var zero = environment
        zero["SLURM_PROCID"] = "0"
        #expect(try LaunchEnvironment.plan(environment: zero).role == .coordinator(bind: "tcp://*:\(LaunchEnvironment.defaultPort)"))
    }

    @Test func kubernetesIndicesAreWorkersOfTheNamedCoordinator() throws {
        let plan = try LaunchEnvironment.plan(environment: ["JOB_COMPLETION_INDEX": "0", "CONACLIP_COORDINATOR": "tcp://conaclip-coordinator:5555"])
        #expect(plan.role == .worker(connect: "tcp://conaclip-coordinator:5555"))
        #expect(plan.workerName == "worker-0")
        #expect(throws: LaunchEnvironmentError.self) { try LaunchEnvironment.plan(environment: ["JOB_COMPLETION_INDEX": "1"]) }
        // The role can be forced, e.g. for the coordinator's own pod.
        let coordinator = try LaunchEnvironment.plan(environment: ["CONACLIP_ROLE": "coordinator", "CONACLIP_PORT": "5555"])
        #expect(coordinator.role == .coordinator(bind: "tcp://*:5555"))
    }

    @Test func refusesWhatItCannotUse() {
        #expect(throws: LaunchEnvironmentError.self) { try LaunchEnvironment.plan(environment: [:]) }
        #expect(throws: LaunchEnvironmentError.self) { try LaunchEnvironment.plan(environment: ["RANK": "x", "WORLD_SIZE": "2"]) }
        #expect(throws: LaunchEnvironmentError.self) { try LaunchEnvironment.plan(environment: ["RANK": "2", "WORLD_SIZE": "2"]) }
        #expect(throws: LaunchEnvironmentError.self) {
            try LaunchEnvironment.plan(environment: ["SLURM_PROCID": "0", "CONACLIP_ROLE": "boss"])
        }
        #expect(throws: LaunchEnvironmentError.self) {
            try LaunchEnvironment.plan(environment: ["JOB_COMPLETION_INDEX": "0", "CONACLIP_COORDINATOR": "coordinator:5555"])
        }
    }

    @Test func expandsSlurmHostLists() throws {
        #expect(try LaunchEnvironment.expandNodeList("node[01-03],gpu5") == ["node01", "node02", "node03", "gpu5"])
        #expect(try LaunchEnvironment.expandNodeList("a[1,3-4]b") == ["a1b", "a3b", "a4b"])
        #expect(try LaunchEnvironment.expandNodeList("rack[1-2]-n[08-09]") == ["rack1-n08", "rack1-n09", "rack2-n08", "rack2-n09"])
        #expect(try LaunchEnvironment.expandNodeList("single") == ["single"])
        #expect(try LaunchEnvironment.firstHost(ofNodeList: "cn[0998-1002]") == "cn0998")
        for bad in ["node[01-03", "node]", "node[a-b]", "node[3-1]", ""] {
            #expect(throws: LaunchEnvironmentError.self, "\(bad)") { try LaunchEnvironment.firstHost(ofNodeList: bad) }
        }
    }
}
