/// The data layer: datasets, image decoding and preprocessing, the emoji
/// benchmark, the deterministic sampler and the teacher-embedding cache.
@_exported import ConaclipDistill
