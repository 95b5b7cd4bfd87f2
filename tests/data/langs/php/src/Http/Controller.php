<?php

namespace App\Http;

use App\Models\User;
use App\Models\{Post, Comment};
use Psr\Log\LoggerInterface;

/**
 * Handles requests. For users.
 */
class Controller extends Base implements Handler
{
    const VERSION = 2;

    private LoggerInterface $log;

    /** Shows a user. */
    public function show(int $id): User
    {
        $user = User::find($id);
        $this->log->info(format_name($user));
        return new User();
    }
}

interface Handler
{
    public function show(int $id): User;
}

trait Loggable {}

enum Status: string { case Active = 'a'; }

function helper(): void {}
