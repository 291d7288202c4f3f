import Foundation

/// The hand-over point between libmosquitto's network thread (one producer) and the task that
/// consumes messages (one consumer).
///
/// The producer appends under a lock and, when the consumer is parked, wakes it once for
/// everything that piled up, so a busy consumer gets a batch per wake-up rather than one message
/// per wake-up. Capacity is bounded: when `capacity` messages wait, the network thread blocks,
/// stops reading its socket, and the broker holds the rest (at QoS 1 it queues them).
final class MessageInbox: @unchecked Sendable {
    // All fields below are guarded by `condition`.
    private let condition = NSCondition()
    private var buffer: [MQTTMessage] = []
    private var waiter: CheckedContinuation<[MQTTMessage]?, Never>?
    private var finished = false
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Adds one message; called on libmosquitto's thread. Blocks while the inbox is full.
    /// Messages pushed after `finish()` are dropped (the client is closing).
    func push(_ message: MQTTMessage) {
        condition.lock()
        while buffer.count >= capacity && !finished {
            condition.wait()
        }
        if finished {
            condition.unlock()
            return
        }
        buffer.append(message)
        let parked = waiter
        var batch: [MQTTMessage] = []
        if parked != nil {
            waiter = nil
            swap(&batch, &buffer)
        }
        condition.unlock()
        parked?.resume(returning: batch)
    }

    /// Everything that is waiting, or suspends until something arrives; nil once finished and
    /// drained. One consumer at a time.
    func nextBatch() async -> [MQTTMessage]? {
        if let ready = takeIfReady() { return ready.isEmpty ? nil : ready }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[MQTTMessage]?, Never>) in
                condition.lock()
                if !buffer.isEmpty {
                    var batch: [MQTTMessage] = []
                    swap(&batch, &buffer)
                    condition.broadcast()
                    condition.unlock()
                    continuation.resume(returning: batch)
                } else if finished || Task.isCancelled {
                    condition.unlock()
                    continuation.resume(returning: nil)
                } else {
                    precondition(waiter == nil, "MessageInbox has one consumer at a time")
                    waiter = continuation
                    condition.unlock()
                }
            }
        } onCancel: {
            condition.lock()
            let parked = waiter
            waiter = nil
            condition.unlock()
            parked?.resume(returning: nil)
        }
    }

    /// A batch when one is waiting, `[]` when finished and empty, nil when the caller must wait.
    private func takeIfReady() -> [MQTTMessage]? {
        condition.lock()
        defer { condition.unlock() }
        if !buffer.isEmpty {
            var batch: [MQTTMessage] = []
            swap(&batch, &buffer)
            condition.broadcast()
            return batch
        }
        return finished ? [] : nil
    }

    /// Ends the stream: the consumer drains what is buffered, then gets nil; a blocked producer
    /// is released.
    func finish() {
        condition.lock()
        finished = true
        let parked = buffer.isEmpty ? waiter : nil
        if parked != nil { waiter = nil }
        condition.broadcast()
        condition.unlock()
        parked?.resume(returning: nil)
    }
}

/// Received messages in batches: each element is everything that arrived since the previous one
/// (never empty). Single consumer. Ends when the client is closed.
public struct MQTTMessageBatches: AsyncSequence, Sendable {
    public typealias Element = [MQTTMessage]
    let inbox: MessageInbox

    public struct AsyncIterator: AsyncIteratorProtocol {
        let inbox: MessageInbox
        public mutating func next() async -> [MQTTMessage]? {
            await inbox.nextBatch()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inbox: inbox) }
}

/// Received messages one by one, in arrival order. Single consumer (shares the inbox with
/// `MQTTMessageBatches`: use one or the other). Ends when the client is closed.
public struct MQTTMessages: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    let inbox: MessageInbox

    public struct AsyncIterator: AsyncIteratorProtocol {
        let inbox: MessageInbox
        var batch: [MQTTMessage] = []
        var index = 0

        public mutating func next() async -> MQTTMessage? {
            if index == batch.count {
                guard let next = await inbox.nextBatch() else { return nil }
                batch = next
                index = 0
            }
            defer { index += 1 }
            return batch[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inbox: inbox) }
}
