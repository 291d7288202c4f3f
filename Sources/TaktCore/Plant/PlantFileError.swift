/// What is wrong with a plant file, and where: the file, its line (1-based), and the key.
///
/// `description` is one line meant for an operator, e.g.
/// `plant.yaml:14: missing key 'cycle_s' in lines[0].stations[1]`.
public struct PlantFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name the loader was given.
    public var file: String
    /// Line in the file, 1-based (0 when unknown).
    public var line: Int
    /// The key the problem is about, as a path (`lines[0].stations[1].cycle_s`); empty for
    /// problems of the whole file (YAML syntax).
    public var key: String
    /// What is wrong and, where it helps, how to fix it.
    public var problem: String

    public init(file: String, line: Int, key: String, problem: String) {
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
    }

    public var description: String {
        "\(file):\(line): \(problem)"
    }
}
