package com.acme.util;

public final class Lists {}
