function fine() { return 1; }
class Oops {
  go( { return
}
