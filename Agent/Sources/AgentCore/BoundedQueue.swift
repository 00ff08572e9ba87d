import Foundation

/// A blocking FIFO of bounded size between the audit reader and the measuring thread. A full
/// queue makes the producer wait (back-pressure: the kernel's socket buffer absorbs the burst,
/// and an overflow there is detected and recorded as a violation); every wait is counted.
///
/// `@unchecked Sendable`: all state is guarded by `condition`.
public final class BoundedQueue<Element>: @unchecked Sendable {
    private var items: [Element] = []
    private var head = 0
    private let condition = NSCondition()
    private var closed = false
    public let capacity: Int
    public private(set) var waits = 0
    public private(set) var highWater = 0

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    public var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return items.count - head
    }

    /// Appends, waiting while the queue is full. Returns false once the queue is closed.
    @discardableResult
    public func put(_ e: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if items.count - head >= capacity {
            waits += 1
            while items.count - head >= capacity, !closed { condition.wait() }
        }
        guard !closed else { return false }
        items.append(e)
        highWater = max(highWater, items.count - head)
        condition.broadcast()
        return true
    }

    /// Removes the oldest element, waiting up to `timeout` seconds; nil on time-out or when
    /// closed and drained.
    public func take(timeout: TimeInterval) -> Element? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while items.count == head {
            if closed { return nil }
            if !condition.wait(until: deadline) { return nil }
        }
        let e = items[head]
        head += 1
        if head > 1024, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return e
    }

    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    public var stats: (waits: Int, highWater: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (waits, highWater)
    }
}
