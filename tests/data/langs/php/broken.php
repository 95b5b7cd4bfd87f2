<?php
function fine() { return 1; }
class Oops {
    function bad( {
        $x = ;
}
