// Marks the stretch of a thread that is inside a device module. Modules such as
// SoftHSM use libcrypto themselves; when the user has made SECSF-RNG OpenSSL's
// generator, the module's own RAND_bytes would come back into secsf and into the
// module again. SECSF-RNG asks insideDeviceCall() and then serves the module from
// the operating system, exactly as it would be served without secsf.
#pragma once

namespace secsf {

inline thread_local int tDeviceCallDepth = 0;

struct DeviceCall {
    DeviceCall() { tDeviceCallDepth++; }
    ~DeviceCall() { tDeviceCallDepth--; }
    DeviceCall(const DeviceCall &) = delete;
    DeviceCall &operator=(const DeviceCall &) = delete;
};

inline bool insideDeviceCall() { return tDeviceCallDepth > 0; }

}  // namespace secsf
