/**
 * Text to token ids and back, as Hugging Face's {@code tokenizers} library does it for the
 * byte-level BPE tokenizers that DeepSeek-V3, R1 and their distilled models ship:
 * {@link dev.panamax.moe.text.HfTokenizer} reads a checkpoint's {@code tokenizer.json} (and
 * {@code tokenizer_config.json} beside it) with no dependency, and
 * {@link dev.panamax.moe.text.ChatTemplate} runs the Jinja2 chat template that lays a conversation
 * out as the model was trained on it, as {@code transformers}' {@code apply_chat_template} does.
 */
package dev.panamax.moe.text;
