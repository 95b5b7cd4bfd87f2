func fine() -> Int { return 1 }
class Oops {
    func bad( {
        let x = 
}
