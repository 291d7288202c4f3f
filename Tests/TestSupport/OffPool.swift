import Foundation

/// Runs CPU-bound or blocking test work on a thread of its own and awaits it.
///
/// Swift Testing runs tests as tasks on the cooperative pool — two threads on a 2-core machine.
/// A test that computes for a minute there (the fuzzer) or blocks a thread leaves the other
/// suites' tasks (brokers coming up, timeouts ticking) without a thread: they time out though
/// nothing is wrong. CI saw 33 "mosquitto did not listen within 30 s" that way.
public func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
