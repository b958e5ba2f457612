package dev.panamax.moe;

import dev.panamax.runtime.Device;

/** {@link BatcherTest} with the model on {@link Device#EMULATED}: the device's paths (the kernels' positions read from device memory) run by the host's kernels. */
class BatcherOnEmulatedDeviceTest extends BatcherTest {
    @Override
    Device device() {
        return Device.EMULATED;
    }
}
