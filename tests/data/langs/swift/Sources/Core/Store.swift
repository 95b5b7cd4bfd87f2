public final class Store {
    public init() {}
    public func load(from path: String) {}
}
