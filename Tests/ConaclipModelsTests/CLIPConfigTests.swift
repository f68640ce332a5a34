import Foundation
import Testing
@testable import ConaclipModels

@Suite struct CLIPConfigTests {
    @Test func decodesHuggingFaceKeys() throws {
        let json = """
        {"projection_dim": 16, "logit_scale_init_value": 2.6592,
         "text_config": {"vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
           "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 16,
           "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
           "bos_token_id": 98, "eos_token_id": 99, "pad_token_id": 99},
         "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
           "num_attention_heads": 4, "image_size": 32, "patch_size": 8, "num_channels": 3,
           "hidden_act": "gelu", "layer_norm_eps": 1e-5}}
        """
        let config = try JSONDecoder().decode(CLIPConfig.self, from: Data(json.utf8))
        #expect(config.visionConfig.sequenceLength == 17)
        #expect(config.visionConfig.hiddenAct == .gelu)
        #expect(config.textConfig.eosTokenId == 99)
    }
}
