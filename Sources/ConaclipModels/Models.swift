/// The model layer: the CLIP dual encoder, its configuration, safetensors
/// checkpoints with Hugging Face names, and the CLIP BPE tokenizer.
@_exported import ConaclipTensor
