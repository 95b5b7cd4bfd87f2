int fine() { return 1; }
class Oops {
  void bad( {
    int x = ;
