extension TrainingConfig {
    /// The config as YAML with every key explicit (defaults written out),
    /// such that `TrainingConfig.parse` reads it back to an equal config
    /// (`source` aside). Used to write the generated configs of an ablation,
    /// which a user can then run or resume by hand with `conaclip train`.
    ///
    /// Strings are double-quoted with JSON escapes (valid YAML); numbers are
    /// written so that YAML reads them as numbers of the same value.
    public var yamlText: String {
        var lines: [String] = []
        lines.append("model: \(Self.quote(model))")
        switch teacher {
        case nil:
            break
        case let .directory(path)?:
            lines.append("teacher: \(Self.quote(path))")
        case let .initialized(preset, seed, pretrain)?:
            lines.append("teacher: {init: \(Self.quote(preset)), seed: \(seed), pretrain_steps: \(pretrain)}")
        }
        if let cache = teacherCache {
            lines.append("teacher_cache: {path: \(Self.quote(cache.path)), on_stale: \(cache.onStale.rawValue), "
                + "verify_payload: \(cache.verifyPayload)}")
        }
        switch data {
        case let .manifest(path, split, policy):
            lines.append("data: {manifest: \(Self.quote(path)), split: \(Self.quote(split ?? "all")), "
                + "on_bad_record: \(policy.rawValue)}")
        case let .synthetic(pairs, seed):
            lines.append("data: {synthetic: {pairs: \(pairs), seed: \(seed)}}")
        }
        switch tokenizer {
        case nil:
            break
        case let .directory(path)?:
            lines.append("tokenizer: {directory: \(Self.quote(path))}")
        case let .learn(size)?:
            lines.append("tokenizer: {learn: {vocab_size: \(size)}}")
        }
        lines.append("batch_size: \(batchSize)")
        lines.append("micro_shards: \(microShards)")
        switch duration {
        case let .steps(n): lines.append("steps: \(n)")
        case let .epochs(n): lines.append("epochs: \(n)")
        }
        lines.append("seed: \(seed)")
        let o = optimizer
        lines.append("optimizer:")
        lines.append("  lr: \(Self.number(o.lr))")
        lines.append("  min_lr: \(Self.number(o.minLR))")
        lines.append("  warmup_steps: \(o.warmupSteps)")
        lines.append("  weight_decay: \(Self.number(o.weightDecay))")
        lines.append("  beta1: \(Self.number(o.beta1))")
        lines.append("  beta2: \(Self.number(o.beta2))")
        lines.append("  eps: \(Self.number(o.eps))")
        lines.append("  max_grad_norm: \(Self.number(o.maxGradNorm))")
        lines.append("loss:")
        lines.append("  task_weight: \(Self.number(loss.taskWeight))")
        lines.append("  kl_tau_squared: \(loss.klTauSquared)")
        lines.append("  shard_local_negatives: \(loss.shardLocalNegatives)")
        if loss.terms.isEmpty {
            lines.append("  terms: []")
        } else {
            lines.append("  terms:")
            for term in loss.terms { lines.append("    - \(Self.quote(term.spec))") }
        }
        lines.append("checkpoint: {every_steps: \(checkpoint.everySteps), keep_last: \(checkpoint.keepLast)}")
        lines.append("log: {every_steps: \(log.everySteps)}")
        let c = cluster
        lines.append("cluster:")
        lines.append("  heartbeat_interval: \(Self.number(c.heartbeatInterval))")
        lines.append("  dead_after: \(Self.number(c.deadAfter))")
        lines.append("  straggler_factor: \(Self.number(c.stragglerFactor))")
        lines.append("  straggler_min_seconds: \(Self.number(c.stragglerMinSeconds))")
        lines.append("  min_workers: \(c.minWorkers)")
        lines.append("  max_bad_results: \(c.maxBadResults)")
        lines.append("  tasks_in_flight: \(c.tasksInFlight)")
        lines.append("  faults: [\(c.faults.map { Self.quote($0.spec) }.joined(separator: ", "))]")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A double-quoted YAML string (JSON escapes).
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// A YAML float that reads back to the same Double: Swift's shortest
    /// round-trip form, with a `.0` before an exponent that lacks a point
    /// (YAML 1.1 floats need one) and `.inf` / `-.inf` for infinities.
    static func number(_ value: Double) -> String {
        if value == .infinity { return ".inf" }
        if value == -.infinity { return "-.inf" }
        var text = "\(value)"
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }), !text[..<e].contains(".") {
            text.insert(contentsOf: ".0", at: e)
        }
        return text
    }
}
