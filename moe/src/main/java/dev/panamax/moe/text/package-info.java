/**
 * Text to token ids and back, as Hugging Face's {@code tokenizers} library does it for the
 * byte-level BPE tokenizers that DeepSeek-V3, R1 and their distilled models ship:
 * {@link dev.panamax.moe.text.HfTokenizer} reads a checkpoint's {@code tokenizer.json} (and
 * {@code tokenizer_config.json} beside it) with no dependency.
 */
package dev.panamax.moe.text;
