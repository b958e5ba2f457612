package dev.panamax.cuda;

/** A CUDA, cuBLAS or NVRTC call failed; the message carries the library's own error text. */
public class CudaException extends RuntimeException {
    /** Creates an exception with the given message. */
    public CudaException(String message) {
        super(message);
    }

    /** Creates an exception with the given message and cause. */
    public CudaException(String message, Throwable cause) {
        super(message, cause);
    }
}
