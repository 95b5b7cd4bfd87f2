package org.demo.core

class Repository {
    fun load(): Item = Item("x")
}
