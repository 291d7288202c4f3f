/// A bad flag value: exit 2, one line on stderr naming the flag.
struct UsageError: Error, CustomStringConvertible {
    var flag: String
    var message: String

    init(flag: String, _ message: String) {
        self.flag = flag
        self.message = message
    }

    var description: String { "\(flag): \(message)" }
}
