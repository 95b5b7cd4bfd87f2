package org.demo.core

data class Item(val title: String)
