package org.demo.ui

import org.demo.core.Repository
import org.demo.core.*
import kotlinx.coroutines.launch as go

/** A screen of the app. */
class Screen(private val repo: Repository) : View() {
    /** Renders it. */
    fun render(): String = repo.load().title

    companion object {
        const val MAX = 3
    }
}

interface Renderer {
    fun draw(canvas: Canvas)
}

object Registry {
    val screens = mutableListOf<Screen>()
}

enum class Theme { LIGHT, DARK }

typealias Callback = (String) -> Unit

fun main() {
    val s = Screen(Repository())
    println(s.render())
}
