package broken;

public class Broken {
    void fine() {}
    void bad( {
        int x = ;
}
