package broken

fun fine() = 1

class Oops {
    fun bad( {
        val x = 
}
