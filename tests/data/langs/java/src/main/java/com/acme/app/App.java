/*
 * Copyright 2024 Acme. Licensed under MIT.
 */
package com.acme.app;

import com.acme.util.Strings;
import com.acme.util.*;
import static com.acme.util.Strings.trim;
import java.util.List;

/** The application. Holds services. */
public class App extends Base implements Runnable {
    /** How many workers run. */
    public static final int WORKERS = 4;
    private final List<Service> services;

    /** Creates it. */
    public App(List<Service> services) {
        this.services = services;
    }

    @Override
    public void run() {
        for (Service s : services) {
            s.start(Strings.trim(name()));
        }
    }

    interface Listener {
        void onEvent(Event e);
    }

    enum Mode { FAST, SLOW }

    record Point(int x, int y) {}
}
