namespace Broken;
public class Broken {
    void Fine() { }
    void Bad( {
        int x = ;
}
