<?php
namespace App\Models;

class Post {}
