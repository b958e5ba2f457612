/**
 * I/O: safetensors reading (memory-mapped, zero-copy, fully validated) and atomic writing,
 * Hugging Face checkpoint folders (single or sharded), and a small JSON reader/writer.
 */
package dev.panamax.runtime.io;
