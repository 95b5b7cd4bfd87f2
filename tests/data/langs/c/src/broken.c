int fine(void) { return 1; }
int bad( {
    int x = ;
