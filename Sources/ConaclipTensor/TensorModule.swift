/// The tensor engine: float32 buffers and tensors, BLAS-backed matrix
/// products and the CLIP kernels, each with a hand-written backward pass.
@_exported import ConaclipNative
