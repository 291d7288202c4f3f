internal import CMosquitto

// libmosquitto's callbacks. Top-level functions that capture nothing: they find the client's
// core through the context pointer (an unretained reference; the retain is held from connect()
// until the network thread ends). They run on that thread.

@inline(__always)
private func core(_ context: UnsafeMutableRawPointer?) -> ClientCore? {
    context.map { Unmanaged<ClientCore>.fromOpaque($0).takeUnretainedValue() }
}

func takt_mqtt_on_connect(_: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ rc: Int32, _ flags: Int32) {
    core(context)?.didConnect(rc: rc, flags: flags)
}

func takt_mqtt_on_disconnect(_: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ rc: Int32) {
    core(context)?.didDisconnect(rc: rc)
}

func takt_mqtt_on_publish(_: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ mid: Int32) {
    core(context)?.didPublish(mid: mid)
}

func takt_mqtt_on_message(_: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ message: UnsafePointer<mosquitto_message>?) {
    guard let message else { return }
    core(context)?.didReceive(message)
}

func takt_mqtt_on_subscribe(_: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ mid: Int32, _ count: Int32, _ granted: UnsafePointer<Int32>?) {
    let first = (count > 0 ? granted?.pointee : nil) ?? 0x80
    core(context)?.didSubscribe(mid: mid, granted: first)
}

func takt_mqtt_on_unsubscribe(_: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ mid: Int32) {
    core(context)?.didUnsubscribe(mid: mid)
}
