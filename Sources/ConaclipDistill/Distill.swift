/// The distillation layer: the ConaCLIP loss graph, the contrastive task
/// loss, AdamW and learning-rate schedules, and the training step.
@_exported import ConaclipModels
