import ArgumentParser

/// The `conaclip` command: distils a large CLIP into a small one with ConaCLIP.
struct ConaclipCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conaclip",
        abstract: "Distil a large CLIP-style dual encoder into a small one with ConaCLIP.",
        subcommands: [
            DoctorCommand.self,
            ModelCommand.self,
            EmbedCommand.self,
            BenchCommand.self,
            LossInspectCommand.self,
            DataCommand.self,
            CacheCommand.self,
            CheckpointCommand.self,
            TrainCommand.self,
            EvalCommand.self,
            AblateCommand.self,
            SearchCommand.self,
            ExportCommand.self,
            ReportCommand.self,
            KeysCommand.self,
            CoordinatorCommand.self,
            WorkerCommand.self,
            LaunchCommand.self,
        ]
    )
}
