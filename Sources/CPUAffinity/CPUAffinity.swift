// Thread pinning: each benchmark thread runs on its own CPU, as in the paper, so that a core
// index really means one CPU and the thread does not migrate in the middle of a loop.
// sched_getaffinity and pthread_setaffinity_np are GNU extensions that Swift's Glibc module
// does not import, so they are looked up with dlsym; where that fails, threads run unpinned.

#if canImport(Glibc)
import Glibc
#endif

/// The CPUs this process may run on, and pinning the calling thread to one of them.
public enum CPUAffinity {
    /// Bytes of a CPU mask (glibc's cpu_set_t: 1024 CPUs).
    static let maskBytes = 128

    #if canImport(Glibc)
    typealias GetAffinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
    typealias SetThreadAffinity = @convention(c) (pthread_t, Int, UnsafeRawPointer) -> Int32

    static func symbol<F>(_ name: String, as type: F.Type) -> F? {
        guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, name) else { return nil }
        return unsafeBitCast(address, to: type)
    }
    #endif

    /// CPUs in the process's affinity mask, ascending; at least one entry.
    public static func allowedCPUs() -> [Int] {
        #if canImport(Glibc)
        if let get = symbol("sched_getaffinity", as: GetAffinity.self) {
            var mask = [UInt8](repeating: 0, count: maskBytes)
            let rc = mask.withUnsafeMutableBytes { get(0, maskBytes, $0.baseAddress!) }
            if rc == 0 {
                let cpus = (0..<(maskBytes * 8)).filter { mask[$0 / 8] & (1 << UInt8($0 % 8)) != 0 }
                if !cpus.isEmpty { return cpus }
            }
        }
        let online = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return Array(0..<max(1, online))
        #else
        return [0]
        #endif
    }

    /// Pins the calling thread to `cpu`; returns false where that is not possible.
    @discardableResult
    public static func pin(to cpu: Int) -> Bool {
        #if canImport(Glibc)
        guard cpu >= 0, cpu < maskBytes * 8, let set = symbol("pthread_setaffinity_np", as: SetThreadAffinity.self) else {
            return false
        }
        var mask = [UInt8](repeating: 0, count: maskBytes)
        mask[cpu / 8] |= 1 << UInt8(cpu % 8)
        return mask.withUnsafeBytes { set(pthread_self(), maskBytes, $0.baseAddress!) } == 0
        #else
        return false
        #endif
    }
}
