package dev.panamax.cuda;

/** A CUDA, cuBLAS or NVRTC call failed; the message carries the library's own error text. */
public class CudaException extends RuntimeException {
    private final int status;

    /** Creates an exception with the given message (no library status). */
    public CudaException(String message) {
        this(message, 0);
    }

    /** Creates an exception with the given message and the library's status code. */
    public CudaException(String message, int status) {
        super(message);
        this.status = status;
    }

    /** Creates an exception with the given message and cause. */
    public CudaException(String message, Throwable cause) {
        super(message, cause);
        this.status = 0;
    }

    /** The library's status code ({@code CUresult}, {@code cublasStatus_t} or {@code nvrtcResult}); 0 when none. */
    public int status() {
        return status;
    }
}
