import Foundation
import Core

/// The app delegate. Starts things.
class AppDelegate: NSObject, Launcher {
    var window: Window?

    /// Launches it.
    func launch(options: Options) -> Bool {
        let store = Store()
        store.load(from: options.path)
        return true
    }
}

protocol Launcher {
    func launch(options: Options) -> Bool
}

struct Options {
    let path: String
}

enum Mode {
    case fast, slow
}

func main() {
    _ = AppDelegate().launch(options: Options(path: "x"))
}
