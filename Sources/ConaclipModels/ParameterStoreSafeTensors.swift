/// Loading a `ParameterStore` from safetensors files and saving it to one,
/// by parameter name (Hugging Face CLIP names for a `CLIPModel`).
extension SafeTensors {
    /// Fills every parameter of `store` from `files` (one file, or the shards
    /// of a sharded checkpoint), converting F16/BF16/F64 to Float32.
    ///
    /// Every parameter must be present with exactly its shape; a tensor the
    /// store does not have is an error too, except the buffers in
    /// `ignoredBuffers`. All problems are collected into one
    /// `.doesNotMatchModel` error, and nothing is written into the store
    /// unless the whole check passes.
    public static func load(into store: ParameterStore, from files: [SafeTensorsFile]) throws(SafeTensorsError) {
        let path = files.count == 1 ? files[0].path : files.map(\.path).joined(separator: " + ")
        var located: [String: (file: SafeTensorsFile, entry: SafeTensorsEntry)] = [:]
        for file in files {
            for (name, entry) in file.entries {
                if let earlier = located[name] {
                    throw .invalidEntry(path: file.path, tensor: name, reason: "it is also stored in \(earlier.file.path)")
                }
                located[name] = (file, entry)
            }
        }
        var missing: [String] = []
        var wrongShape: [ShapeMismatch] = []
        for spec in store.specs {
            guard let found = located[spec.name] else { missing.append(spec.name); continue }
            if found.entry.shape != spec.shape {
                wrongShape.append(ShapeMismatch(name: spec.name, expected: spec.shape, found: found.entry.shape))
            }
        }
        let unexpected = located.keys
            .filter { store.spec(named: $0) == nil && !ignoredBuffers.contains($0) }
            .sorted(by: SafeTensorsWriter.nameOrder)
        guard missing.isEmpty, unexpected.isEmpty, wrongShape.isEmpty else {
            throw .doesNotMatchModel(path: path, missing: missing, unexpected: unexpected, wrongShape: wrongShape)
        }
        for spec in store.specs {
            guard let found = located[spec.name], !found.entry.dtype.convertsToFloat else { continue }
            throw .unsupportedDType(path: found.file.path, tensor: spec.name, dtype: found.entry.dtype)
        }
        for spec in store.specs {
            guard let found = located[spec.name] else { continue }
            let destination = UnsafeMutableBufferPointer(start: store.values.pointer + spec.offset, count: spec.count)
            try found.file.read(found.entry, into: destination)
        }
    }

    /// A writer holding every parameter of `store` (read in place when written).
    public static func writer(
        for store: ParameterStore, dtype: WeightDType = .float32,
        metadata: [String: String] = huggingFaceMetadata
    ) -> SafeTensorsWriter {
        var writer = SafeTensorsWriter(dtype: dtype, metadata: metadata)
        for spec in store.specs {
            writer.add(spec.name, shape: spec.shape, buffer: store.values, offset: spec.offset)
        }
        return writer
    }

    /// Saves every parameter of `store` to `path` atomically. The default
    /// metadata (`format: pt`) is what Hugging Face `from_pretrained` requires.
    public static func save(
        _ store: ParameterStore, to path: String, dtype: WeightDType = .float32,
        metadata: [String: String] = huggingFaceMetadata
    ) throws(SafeTensorsError) {
        try writer(for: store, dtype: dtype, metadata: metadata).write(to: path)
    }
}

extension SafeTensorsFile {
    /// Fills every parameter of `store` from this file; see `SafeTensors.load(into:from:)`.
    public func load(into store: ParameterStore) throws(SafeTensorsError) {
        try SafeTensors.load(into: store, from: [self])
    }
}
